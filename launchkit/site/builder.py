"""The build, as a short pipeline of named steps (the shape of MkDocs' ``commands/build.py``).

    load pages -> media -> render Markdown -> expand shortcodes -> render templates -> extras
    load_content  plan_media  render_markdown  fill_in_content     write_pages   collect_files
                  make_media                                        (+ rewrite_document)

The media step (:mod:`.media`) names the published files (fingerprinted), plans image
variants and social cards and encodes what the image cache lacks; each rendered document is
then rewritten to use them (:meth:`.assets.Assets.rewrite_document`).

Each step is a function of what the previous one returned; the same input gives
byte-identical output (sorted iteration everywhere, no timestamps).

Builds are incremental (:mod:`launchkit.site.cache`): a page whose file kept its size and mtime
is not read again, a body whose text did not change is not rendered by Python-Markdown
again, a page whose document depends on nothing that changed (:func:`page_keys`) is not
rendered at all, and a file whose bytes did not change is not written
(:mod:`launchkit.site.publish`). With many pages to read or render, the work is spread over one
worker process per core (forked, so they share the parent's loaded templates and pages).
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from ..config import SiteConfig
from ..errors import SiteError, attempt, raise_all, reported_with
from . import assets as assets_module
from . import content as content_module
from . import frontmatter as frontmatter_module
from . import images as images_module
from . import markup as markup_module
from . import media as media_module
from . import render as render_module
from . import social as social_module
from . import structured_data as structured_data_module
from . import summary as summary_module
from . import template_usage as template_usage_module
from . import theme as theme_module
from .bundles import follow_bundles
from .cache import CACHE_FOLDER, BuildCache, LastBuild, MarkdownEntry, OutputRecord, digest
from .content import (
    Page,
    display_path,
    load_content,
    read_page,
    with_body,
)
from .extras import extra_files
from .linkcheck import LinkWarning, all_warnings, check_links, extract_links
from .markup import SETTINGS, MarkdownRenderer, RenderedMarkdown, expand_shortcodes
from .media import IMAGE_CACHE, Media, make_media, plan_media
from .publish import SiteFiles, SiteWriter, check_output_dir, site_writer
from .publishing import PublishRules
from .render import ALL_PAGES_GLOBALS, Renderer
from .template_usage import TemplateUsage, unused_params

# Below this many pages to render, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 100
# Builds of more pages than this show a progress bar (on a terminal).
PROGRESS_THRESHOLD = 300
# The code that shapes a page's document: a change to it renders every page afresh.
_CODE = digest(
    *(
        Path(module.__file__ or "").read_bytes()
        for module in (
            content_module,
            frontmatter_module,
            markup_module,
            render_module,
            summary_module,
            template_usage_module,
            theme_module,
            assets_module,
            images_module,
            social_module,
            media_module,
            structured_data_module,
            sys.modules[__name__],
        )
    )
)


@dataclass(frozen=True)
class BuildReport:
    """What a build produced: HTML pages, other files (static, assets, sitemap…), duration.

    ``rendered`` pages went through their template in this build, ``from_cache`` ones are
    the last build's files, unchanged; ``markdown_rendered`` bodies went through
    Python-Markdown. ``warnings`` are the theme's colour pairs that fail WCAG AA contrast
    and the broken internal links; ``notes`` name the page data no template uses.
    """

    pages: int
    files: int
    seconds: float
    rendered: int = 0
    from_cache: int = 0
    markdown_rendered: int = 0
    warnings: tuple[LinkWarning, ...] = ()
    notes: tuple[str, ...] = ()
    images_processed: int = 0  # image variants and social cards encoded (not cached)


def build_site(
    config: SiteConfig,
    out_dir: Path,
    *,
    drafts: bool = False,
    future: bool = False,
    now: dt.datetime | None = None,
    checkout_endpoint: str | None = None,
    clean: bool = False,
    strict: bool = False,
    progress: bool = False,
    workers: int | None = None,
) -> BuildReport:
    """Build the site of ``config`` into ``out_dir``, changing it only if everything worked.

    ``drafts`` and ``future`` publish drafts and pages dated after ``now`` (default: the
    clock); a build reports every error of a step at once (:class:`launchkit.errors.SiteErrors`).
    ``checkout_endpoint`` overrides ``[checkout] endpoint`` in the forms (the preview server
    mounts the checkout locally). ``clean`` ignores (and rewrites) the cache; ``strict``
    fails the build on a broken link; ``progress`` allows a progress bar on stderr for big
    sites; ``workers`` caps the worker processes (default: one per core; 1: none).
    Safe to call again and again in one process, one call at a time (the preview server's
    rebuilds): the cache stays in memory between calls.
    """
    started = time.perf_counter()
    out = check_output_dir(out_dir, config)
    cache = BuildCache(config.root / CACHE_FOLDER, clean=clean)
    scope = digest(_CODE, config.fingerprint())
    known = cache.sources(scope)
    workers = workers or os.cpu_count() or 1
    content = load_content(
        config,
        rules=PublishRules.of_build(drafts=drafts, future=future, now=now),
        known=known.get("pages"),
        read_pages=partial(read_pages, config=config, workers=workers),
    )
    renderer = Renderer(
        config, checkout_endpoint=checkout_endpoint, compiled_dir=cache.folder / "templates"
    )
    if "templates" in known:
        renderer.reuse_dependencies(known["templates"])
    last = cache.last_build(out)
    show = progress and len(content.pages) > PROGRESS_THRESHOLD
    bundles = follow_bundles(content.pages, content.assets, config.content_dir)
    media = plan_media(config, content.pages, bundles)
    renderer.env.globals["social_image"] = media.social_image
    images_processed = make_media(
        media,
        config.root / IMAGE_CACHE,
        lambda job, items: run_jobs(job, items, workers, _NoProgress()),
    )
    with _progress_bar(show) as bar:
        # Pages that could not be read fail the build, after the others' Markdown and
        # shortcodes are checked too: one failed build lists every problem.
        with reported_with(content.errors):
            bodies, entries, fresh = render_markdown(
                content.pages, cache.markdown(), config, workers, bar
            )
            cache.save_markdown(entries)
            pages = fill_in_content(content.pages, bodies, renderer)
        renderer.use_pages(pages)
        files = collect_files(config, pages, media)
        with site_writer(out) as writer:
            keys = page_keys(pages, renderer, media.assets.digest)
            records, rendered = write_pages(
                pages, keys, last.records, renderer, media, writer, workers, bar
            )
            writer.stage_all(files)
            done, warnings = check_site_links(
                pages, records, files, renderer, last, content.left_out
            )
            if strict and warnings:
                raise _strict_failure(warnings)
            writer.commit(done.files or (), last.files)
    usage = TemplateUsage.of(renderer.env, renderer.templates_digest(), known.get("usage"))
    cache.save_sources(
        scope,
        {"pages": content.known, "templates": renderer.known_dependencies(), "usage": usage},
    )
    cache.save_last_build(out, done)
    return BuildReport(
        pages=len(pages),
        files=len(files),
        seconds=time.perf_counter() - started,
        rendered=rendered,
        from_cache=len(pages) - rendered,
        markdown_rendered=fresh,
        warnings=(*renderer.theme.warnings, *markup_warnings(pages, bodies), *warnings),
        notes=tuple(unused_params(pages, usage.keys)),
        images_processed=images_processed,
    )


def read_pages(paths: list[Path], *, config: SiteConfig, workers: int) -> list[Page | SiteError]:
    """:func:`launchkit.site.content.read_page` of each path, over worker processes when many;
    a page that cannot be read is its error."""
    with _shared(config=config):
        return run_jobs(_read_page, paths, workers, _NoProgress())


def render_markdown(
    pages: Sequence[Page],
    cached: dict[str, MarkdownEntry],
    config: SiteConfig,
    workers: int,
    bar: _Progress,
) -> tuple[list[RenderedMarkdown], dict[str, MarkdownEntry], int]:
    """Each page's body as HTML with shortcode placeholders: depends on the text alone.

    Bodies found in ``cached`` are not rendered again (nor read, for pages from the cache).
    Returns the rendered bodies, the cache entries of this build's pages (what the next
    build may reuse) and how many bodies went through Python-Markdown.
    """
    last = _LAST.bodies
    keys = [
        last[page.body_key][0] if page.body_key in last else digest(SETTINGS, page.body_key)
        for page in pages
    ]
    missing = {key: page for key, page in zip(keys, pages, strict=True) if key not in cached}
    jobs = [
        (with_body(page, config).body, display_path(page.path), page.body_line)
        for page in missing.values()
    ]
    fresh = dict(zip(missing, run_jobs(_render_body, jobs, workers, bar), strict=True))
    entries = {key: cached[key] if key in cached else fresh[key] for key in keys}
    bodies = {}
    for page, key in zip(pages, keys, strict=True):
        known = last.get(page.body_key)
        body = known[1] if known is not None else RenderedMarkdown.from_entry(entries[key])
        bodies[page.body_key] = (key, body)
    _LAST.bodies = bodies
    return [bodies[page.body_key][1] for page in pages], entries, len(jobs)


def markup_warnings(pages: Sequence[Page], bodies: Sequence[RenderedMarkdown]) -> list[LinkWarning]:
    """What rendering the bodies warned about (Liquid tags shown as text), by page and line."""
    return [
        LinkWarning(page.source, line, message)
        for page, body in zip(pages, bodies, strict=True)
        for line, message in body.warnings
    ]


def fill_in_content(
    pages: Sequence[Page], rendered: Sequence[RenderedMarkdown], renderer: Renderer
) -> list[Page]:
    """Each page with its final HTML: shortcodes expanded into buy forms, and its TOC.

    Every page's shortcode errors are raised together.
    """
    filled = {}
    errors = []
    for page, body in zip(pages, rendered, strict=True):
        known = _LAST.filled.get(page.path)
        if known is not None and known[0] is page and known[1] is body and not body.shortcodes:
            filled[page.path] = known  # no buy form in it: nothing else it depends on
            continue
        try:
            content = expand_shortcodes(
                body,
                source=page.source,
                known=renderer.shortcode_names(),
                render_shortcode=renderer.render_shortcode,
                page=page,
            )
        except SiteError as exc:
            errors.append(exc)
            continue
        filled[page.path] = (page, body, page.with_content(content, body.toc))
    raise_all(errors)
    _LAST.filled = filled
    return [filled[page.path][2] for page in pages]


def page_keys(pages: Sequence[Page], renderer: Renderer, assets: str) -> list[str]:
    """For each page, a hash of everything its document depends on.

    The page itself (source, front matter, body), its template with every template it
    pulls in (the buy form's too), the config and checkout endpoint, the navigation and
    feed link every page may show, launchkit's own code and Markdown settings, and, when
    its templates read ``pages`` or ``section_pages``, every page's front matter and body.
    The body's key stands for its HTML, which is a function of the body and the rest of
    this list: hashing megabytes of HTML again on every build would cost more.
    ``assets`` is the digest of the published names and image sizes (:mod:`.assets`).
    Equal keys, equal documents: a page whose key is the last build's is not rendered again.
    """
    site = digest(
        _CODE,
        assets,
        SETTINGS,
        renderer.config.fingerprint(),
        renderer.endpoint,
        renderer.shared_state(),
    )
    listing: str | None = None
    keys = []
    for page in pages:
        dependencies = renderer.dependencies(page.template)
        parts = [site, dependencies.digest, page.source_key]
        if dependencies.names & ALL_PAGES_GLOBALS:
            listing = listing or _listing(pages)
            parts.append(listing)
        keys.append(digest(*parts))
    return keys


def _listing(pages: Sequence[Page]) -> str:
    """A hash of every page as ``pages`` shows it to a template."""
    return digest(*(page.source_key for page in pages))


def write_pages(
    pages: Sequence[Page],
    keys: Sequence[str],
    previous: dict[str, OutputRecord],
    renderer: Renderer,
    media: Media,
    writer: SiteWriter,
    workers: int,
    bar: _Progress,
) -> tuple[dict[str, OutputRecord], int]:
    """Stage every page whose document may differ from the published one; skip the rest.

    A page is skipped when its key is the last build's and its file is still the one that
    build wrote. Returns each page's record (for the next build and the link checker) by
    output path, and how many pages were rendered.
    """
    records: dict[str, OutputRecord] = {}
    stale: list[int] = []
    out = str(writer.out)  # os.path, not pathlib, for thousands of paths
    for index, (page, key) in enumerate(zip(pages, keys, strict=True)):
        record = previous.get(page.output)
        published = os.path.join(out, page.output)
        if record is not None and record.key == key and record.matches(published):
            records[page.output] = record
        else:
            stale.append(index)
    writer.expect([pages[index].output for index in stale])
    with _shared(pages=pages, keys=keys, renderer=renderer, writer=writer, media=media):
        fresh = run_jobs(_render_page, stale, workers, bar)
    for index, (record, changed) in zip(stale, fresh, strict=True):
        records[pages[index].output] = record
        if changed:
            writer.staged(pages[index].output)
    return records, len(stale)


def collect_files(config: SiteConfig, pages: Sequence[Page], media: Media) -> SiteFiles:
    """Every file of the site besides the page documents (whose paths it reserves):
    sitemap/robots/feed, static/ and the files beside pages (fingerprinted; a moved
    bundle's beside its page), image variants, social cards."""
    files = SiteFiles()
    for page in pages:
        files.reserve(page.output, page.source)
    for output, data in extra_files(config, pages).items():
        files.add(
            output, media.assets.rewrite_urls(data.decode()).encode(), f"the generated {output}"
        )
    media.add_files(files, pages, config.root / IMAGE_CACHE)
    return files


def check_site_links(
    pages: Sequence[Page],
    records: dict[str, OutputRecord],
    files: SiteFiles,
    renderer: Renderer,
    last: LastBuild,
    left_out: dict[str, str] | None = None,
) -> tuple[LastBuild, list[LinkWarning]]:
    """The built site's broken internal links, and this build as the next one will see it.

    ``left_out`` (URL: why) turns a link to a draft or future page into a warning saying so.

    A page keeps the last build's warnings when its record is the last build's (same
    links) and nothing it may link to changed: the same files, every page's ids, the same
    templates (where a warning may point) and config (whose base URL makes links ours).
    """
    outputs = files.outputs()
    targets = digest(
        os.getcwd(),  # warnings name files relative to it
        renderer.templates_digest(),
        renderer.config.fingerprint(),
        *sorted(outputs),
        *(f"{output}\n{record.ids_key}" for output, record in sorted(records.items())),
        *(f"{url}\n{reason}" for url, reason in sorted((left_out or {}).items())),
    )
    known = {}
    if targets == last.targets:
        known = {
            output: tuple(LinkWarning(*warning) for warning in record.warnings)
            for output, record in records.items()
            if record is last.records.get(output)
        }
    found = check_links(
        pages,
        {output: record.links for output, record in records.items()},
        {output: record.ids for output, record in records.items()},
        outputs,
        renderer.config.site.base_url,
        renderer.config.templates_dir,
        known,
        left_out,
    )
    judged = {}
    for output, record in records.items():
        warnings = tuple(astuple(warning) for warning in found.get(output, ()))
        judged[output] = (
            record if warnings == record.warnings else replace(record, warnings=warnings)
        )
    return LastBuild(judged, frozenset(outputs), targets), all_warnings(found)


def _strict_failure(warnings: Sequence[LinkWarning]) -> SiteError:
    listed = "\n".join(str(warning) for warning in warnings)
    return SiteError(
        f"{listed}\n{len(warnings)} broken link(s) and --strict: nothing published",
        hint="fix the links above, or build without --strict to publish anyway",
    )


# --- running jobs, in worker processes when there are many ---------------------------------


class _Progress(Protocol):
    """The part of a tqdm bar that :func:`run_jobs` uses."""

    total: int

    def update(self, n: int = 1) -> object: ...
    def refresh(self) -> None: ...


class _NoProgress:
    """A bar that shows nothing: most builds, and every build off a terminal."""

    total = 0

    def update(self, n: int = 1) -> None:
        pass

    def refresh(self) -> None:
        pass


@contextmanager
def _progress_bar(show: bool) -> Iterator[_Progress]:
    """A tqdm bar on stderr, removed when done; imported only when shown (it costs 50 ms)."""
    if not show:
        yield _NoProgress()
        return
    from tqdm import tqdm

    with tqdm(total=0, unit="page", desc="Rendering", leave=False) as bar:
        yield bar


def run_jobs(job: Callable[[Any], Any], items: Sequence[Any], workers: int, bar: _Progress) -> list:
    """``[job(item) for item in items]``, over ``workers`` forked processes when worth it.

    Forked workers inherit what the parent loaded (templates, pages in :data:`_SHARED`),
    so only the items and small results cross the process boundary. Every item is done:
    the SiteErrors of all that failed are raised together at the end.
    """
    bar.total += len(items)
    bar.refresh()
    if workers < 2 or len(items) <= PARALLEL_THRESHOLD:
        return _without_failures((_guarded(job, item) for item in items), bar)
    # Imported here: 25 ms that a rebuild of a few pages does not need.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunksize = max(1, min(32, len(items) // (workers * 8)))
    # The workers fork from a parent holding every page: frozen, those objects are left out
    # of the workers' garbage collections, which would otherwise walk them over and over
    # (and copy the memory pages they touch). gc's documentation recommends it before fork.
    gc.freeze()
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        return _without_failures(pool.map(partial(_guarded, job), items, chunksize=chunksize), bar)
    finally:
        pool.shutdown(cancel_futures=True)
        gc.unfreeze()


@dataclass(frozen=True)
class _Failure:
    """A job's SiteError, returned rather than raised so that the other jobs go on."""

    error: SiteError


def _guarded(job: Callable[[Any], Any], item: Any) -> Any:
    try:
        return job(item)
    except SiteError as exc:
        return _Failure(exc)


def _without_failures(results: Iterable[Any], bar: _Progress) -> list:
    """The results of jobs, in order; raise the errors of those that failed, all together."""
    done, failures = [], []
    for result in results:
        if isinstance(result, _Failure):
            failures.append(result.error)
        else:
            done.append(result)
        bar.update()
    raise_all(failures)
    return done


class _LastResults:
    """The last build's per-page results in this process, for the preview's next build.

    Each is a pure function of what it is checked against, so reusing it is exact; only
    the last build's pages are kept. A CLI build starts with none; the preview's rebuilds
    skip thousands of recomputations (0.1 s of a one-page rebuild at 2000 pages).
    """

    def __init__(self) -> None:
        # Rendered bodies by body key, with their Markdown cache key.
        self.bodies: dict[str, tuple[str, RenderedMarkdown]] = {}
        # Filled-in pages by file: (the page, its rendered body, the page with its content).
        self.filled: dict[str, tuple[Page, RenderedMarkdown, Page]] = {}


_LAST = _LastResults()
_MARKDOWN: list[MarkdownRenderer] = []  # this process's renderer, made on first use
_SHARED: dict[str, Any] = {}  # what the jobs below need, set before workers fork (_shared)


@contextmanager
def _shared(**values: Any) -> Iterator[None]:
    """Make ``values`` readable by the job functions, in this process and forked workers."""
    _SHARED.update(values)
    try:
        yield
    finally:
        _SHARED.clear()


def _read_page(path: Path) -> Page | SiteError:
    return attempt(read_page, path, _SHARED["config"])


def _render_body(job: tuple[str, str, int]) -> MarkdownEntry:
    body, source, first_line = job
    if not _MARKDOWN:
        _MARKDOWN.append(MarkdownRenderer())
    return _MARKDOWN[0].render(body, source=source, first_line=first_line).to_entry()


def _render_page(index: int) -> tuple[OutputRecord, bool]:
    page: Page = _SHARED["pages"][index]
    html = _SHARED["renderer"].render_document(page).decode("utf-8")
    document = _SHARED["media"].assets.rewrite_document(html, page).encode("utf-8")
    stat, changed = _SHARED["writer"].stage(page.output, document)
    links, ids = extract_links(document)
    key = _SHARED["keys"][index]
    record = OutputRecord(key, stat.st_size, stat.st_mtime_ns, links, ids, digest(*sorted(ids)))
    return record, changed


__all__ = [
    "BuildReport",
    "build_site",
    "check_site_links",
    "collect_files",
    "fill_in_content",
    "page_keys",
    "render_markdown",
    "write_pages",
]
