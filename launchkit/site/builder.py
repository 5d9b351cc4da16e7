"""The build, as a short pipeline of named steps (the shape of MkDocs' ``commands/build.py``).

    sources -> pages -> bodies -> lists -> media -> documents -> files -> links -> publish
    find_sources  read_source  render  make_lists  plan_media  render_document  collect_files
                                                   make_media  (+ rewrite_document)  check_links
                                                                                     commit

The lists step (:mod:`.lists`) gives the list pages: the blog's index paginated, a page per
tag and category and their indexes, each generated page a :class:`Page` with its
``listing``, and the feeds. A list page needs the identity ``list:<page>`` (what it shows
of the pages it lists, :meth:`.keys.Identities.listed_value`), so that editing a post's
text redoes only the lists that show its summary.

The media step (:mod:`.media`) names the published files (fingerprinted), plans image
variants and social cards and encodes what the image cache (``.cache/images/``, keyed by
content, kept by ``--clean``) lacks; each rendered document is then rewritten to use them
(:meth:`.assets.Assets.rewrite_document`). What documents see of it is the identity
``assets`` (every document needs it) and ``social_cards`` (the templates calling
``social_image``).

Each step is a pure function of what the earlier ones gave (in :mod:`.content`,
:mod:`.markup`, :mod:`.render`, :mod:`.extras`, :mod:`.linkcheck`); the same input gives
byte-identical output (sorted iteration everywhere, no timestamps). Around them, one cache
layer (:mod:`.cache`) says what must be redone: a page whose file did not change is not read
again, a body whose text did not change is not rendered by Python-Markdown again, a document
none of whose needs changed is not rendered, a page whose links and targets did not change
is not checked again, and a file whose bytes did not change is not written
(:mod:`.publish`). What outlives a build lives in the caller's
:class:`~launchkit.site.context.BuildContext`.

Between the pages and the documents, everything the build derives from the pages' front
matter, the config, the templates and the files (published pages, lists and feeds, aliases,
media, navigation, what each document needs, the output paths) is the site plan
(:mod:`.siteplan`): when what changed since the last build are body edits (the paths the
preview names; the CLI's stamps of the source files against those the plan was made with),
the cache layer hands back the last build's, and only the edited pages' identities, their
lists' and feeds are made again. After template edits that leave what the plan read of the
templates, it is the last build's too, but every identity and need is found again.

Before all this, a build in a context made for one build (the CLI's) compares the site
with the stamp of the last build into its folder (:mod:`.unchanged`): when no source file,
option, code or published file changed, that build's report is the answer, and no step
runs.

With many pages to read or render, the work is spread over worker processes
(:mod:`.workers`): each builds its state from a small payload, with any start method, and
the same processes serve every step of the build (with spawn and forkserver).

Adding a step: write it as a pure function in its own module, name that module in
:data:`launchkit.site.keys.STEPS` (its code then keys its results), and call it here for the
items the cache layer says are stale. A new kind of generated page is a :class:`Page` made by
a step before ``documents``: its document is cached by what it needs like any other.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import astuple, dataclass, replace
from pathlib import Path

from ..config import SiteConfig
from ..errors import SiteError, attempt, reported_with
from .aliases import alias_pages
from .assets import plan_assets
from .bundles import follow_bundles
from .cache import (
    BuildCache,
    Links,
    Output,
    PageEntry,
    code_keys,
    file_stamp,
    generated_entries,
)
from .content import (
    Page,
    Sources,
    published_pages,
    read_body,
    read_source,
)
from .context import BuildContext
from .extras import extra_files, feed_files
from .keys import (
    body_key,
    build_key,
    digest,
    front_key,
    markdown_key,
    page_key,
    page_links_key,
    plan_key,
    shape_key,
)
from .linkcheck import LinkWarning, all_warnings, check_links, extract_links
from .lists import Feed, make_lists
from .markup import MarkdownRenderer, RenderedMarkdown
from .media import Media, image_cache_folder, make_media, media_job, plan_media
from .publish import MARKER, SiteFiles, SiteWriter, check_output_dir, site_writer
from .publishing import PublishRules
from .refs import PageRefs, shortcode_needs
from .render import Renderer, SiteLinks
from .shortcodes import parse_shortcodes
from .siteplan import SitePlan, first_future_date, sources_of, templates_read
from .store import CACHE_FOLDER, FILE_NAME, Store
from .template_usage import unused_params
from .unchanged import LastBuild, Stamps
from .workers import NoProgress, Progress, Workers, run_jobs

# Builds of more pages than this show a progress bar (on a terminal).
PROGRESS_THRESHOLD = 300
# Judging the links of more pages than this, the ids of the last build's documents are read
# from the cache file at once (one query), else only those the links point to.
_FEW_PAGES = 50
# Judging links, the links of this many documents are read from the cache file at once.
_LINKS_AT_ONCE = 250


@dataclass(frozen=True)
class BuildReport:
    """What a build produced: HTML pages, other files (static, assets, sitemap…), duration.

    ``rendered`` pages went through their template in this build, ``from_cache`` ones are
    the last build's files, unchanged; ``markdown_rendered`` bodies went through
    Python-Markdown. ``warnings`` are the theme's colour pairs that fail WCAG AA contrast
    (and its menu entries no page has), what the bodies showed as text (Liquid tags), and
    the broken internal links; ``notes`` name the page data no template uses.
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
    # Whether the site's shape was made afresh; else the last good build's was taken (only
    # page bodies changed: :mod:`.siteplan`), or (an unchanged site) none was needed.
    planned: bool = True


def build_site(
    config: SiteConfig,
    out_dir: Path,
    *,
    drafts: bool = False,
    future: bool = False,
    preview: bool = False,
    now: dt.datetime | None = None,
    checkout_endpoint: str | None = None,
    clean: bool = False,
    strict: bool = False,
    progress: bool = False,
    workers: int | None = None,
    context: BuildContext | None = None,
    changed: Iterable[str | Path] | None = None,
    published: Callable[[], object] | None = None,
) -> BuildReport:
    """Build the site of ``config`` into ``out_dir``, changing it only if everything worked.

    ``drafts`` and ``future`` publish drafts and pages dated after ``now`` (default: the
    clock); a ``preview`` shows the future ones marked as such (:mod:`.publishing`); a
    build reports every error of a step at once (:class:`launchkit.errors.SiteErrors`).
    ``checkout_endpoint`` overrides ``[checkout] endpoint`` in the forms (the preview server
    mounts the checkout locally). ``clean`` starts ``context`` afresh and reads no cache (it
    is rewritten); ``strict`` fails the build on a broken link; ``progress`` allows a
    progress bar on stderr for big sites; ``workers`` caps the worker processes (default:
    one per core; 1: none). ``context`` is what the caller keeps between builds (default:
    a new one, for this build only: one made so, not told of changes, first compares the
    site with the stamp of the last build into ``out``, and when nothing changed answers
    with that build's report, :mod:`.unchanged`). ``changed``: the paths changed since
    the last build with this context (the preview's file events), so that nothing else is
    looked at; None: look at every file.
    ``published`` is called as soon as the new files are in place, before the build writes
    what it learnt to the cache file (the preview reloads its tabs then).
    """
    started = time.perf_counter()
    out = check_output_dir(out_dir, config)
    context = context if context is not None else BuildContext(one_build=True)
    rules = PublishRules.of_build(drafts=drafts, future=future, now=now, preview=preview)
    endpoint = checkout_endpoint or config.checkout.endpoint
    # One connection to the cache file for the whole build, the stamp's check included.
    with closing(Store(config.root / CACHE_FOLDER / FILE_NAME)) as store:
        last = None
        if context.one_build and changed is None:
            last = _last_build(config, context, store, out, rules, endpoint, strict)
            unchanged = None if clean else last.report_if_unchanged(rules.now)
            if unchanged is not None:
                if published is not None:
                    published()
                return replace(unchanged, seconds=time.perf_counter() - started)
        cache = BuildCache(
            context,
            config,
            store,
            str(out),
            clean=clean,
            changed=None if changed is None else {os.path.abspath(path) for path in changed},
            endpoint=endpoint,
            stamps=last.sources if last is not None else None,
            settled_before=last.settled_before if last is not None else 0,
            files=last.files if last is not None else None,
        )
        try:
            with _worker_processes(context, workers or os.cpu_count() or 1) as processes:
                build = _Build(config, cache, processes, published, last)
                with _progress_bar(progress) as bar:
                    build.bar = bar
                    return build.run(out, rules=rules, strict=strict, started=started)
        except BaseException:
            # The paths this build was told of may not all have been taken in: the next
            # build looks at every file instead of trusting a list of changes, and plans the
            # site.
            context.content_files = None
            context.plan = None
            raise


@contextmanager
def _worker_processes(context: BuildContext, size: int) -> Iterator[Workers]:
    """The worker processes of a build: those ``context`` keeps between builds (the
    preview's), else the build's own, started at its first step over workers and ended with
    it, error or not. Every step over workers uses the same: starting them is, with spawn and
    forkserver, fresh interpreters importing launchkit, Markdown, Jinja and Pygments."""
    kept = context.kept_workers(size)
    if kept is not None:
        yield kept
        return
    with Workers(size) as workers:
        yield workers


def _last_build(
    config: SiteConfig,
    context: BuildContext,
    store: Store,
    out: Path,
    rules: PublishRules,
    endpoint: str,
    strict: bool,
) -> LastBuild:
    """The stamp of the last build into ``out`` (:mod:`.unchanged`), with the key of this
    one: what it is made from besides its files."""
    options = (rules.drafts, rules.future, rules.preview, endpoint, strict, str(out))
    code = code_keys(context).values()
    key = build_key(config, code, *options, str(image_cache_folder(config.root)))
    return LastBuild(config, store, out, key)


class _Build:
    """One build: the pipeline's steps, each asking the cache layer what to redo."""

    def __init__(
        self,
        config: SiteConfig,
        cache: BuildCache,
        workers: Workers,
        published: Callable[[], object] | None = None,
        last: LastBuild | None = None,
    ) -> None:
        self.config = config
        self.cache = cache
        self.workers = workers
        self.published = published
        self.last = last  # the stamp to replace once this build worked
        self.image_cache = image_cache_folder(config.root)
        self.bar: Progress = NoProgress()
        self.markdown_rendered = 0
        self.rendered: set[str] = set()  # the outputs of the documents rendered here
        self.images_processed = 0

    def run(self, out: Path, *, rules: PublishRules, strict: bool, started: float) -> BuildReport:
        cache = self.cache
        sources = cache.sources()
        entries, errors = self.read_pages(sources.markdown, rules)
        renderer = self.renderer()
        key = self.plan_key(rules)
        plan = None
        if not errors:
            content = sources_of(sources.markdown, sources.assets)
            plan = cache.site_plan(key, rules.now, content, renderer)
        # The cache file's entries come without their pages: the plan taken has them.
        entries, lost = cache.with_pages(entries, plan)
        if lost:  # pages the cache file could not give: read again, the site planned afresh
            plan = None
            entries, errors = self.read_pages(sources.markdown, rules)
        replanned = plan is None
        if plan is None:
            plan = self.plan_site(key, sources, entries, rules, renderer)
        pages, documented, media = plan.lists.pages, plan.documented, plan.media
        entries = {**entries, **plan.generated}
        renderer.env.globals["social_image"] = media.social_image
        record = cache.record()
        # Pages that could not be read (and URLs two pages claim) fail the build, after the
        # other pages' shortcodes and templates are checked too: one failed build lists
        # every problem.
        # The image cache's files are linked into the site, not copied (SiteWriter).
        with site_writer(out, linked_from=self.image_cache) as writer:
            problems = [*errors, *plan.published.errors, *plan.lists.errors, *plan.alias_errors]
            with reported_with(problems):
                renderer.use_pages(pages, self.filler(renderer, entries), plan.refs, plan.links)
                values = cache.identities(
                    pages, entries, renderer, media.identities(), plan.by_source
                )
                affected = None
                needs_changed = False
                if replanned or cache.templates_edited:
                    # What a document needs is what its templates read: found again, and
                    # every identity compared with the record's (a template's, the forms').
                    needs = [values.needs(page, entries[page.path]) for page in documented]
                    needs_changed = needs != plan.needs
                    if needs_changed:
                        plan.needs, plan.dependents = needs, None
                else:  # body edits: only what the edited pages' bodies feed can differ
                    edited = [entries[path].page.source for path in sorted(cache.edited)]
                    affected = plan.affected(edited)
                    values.keep(record.values, affected)
                stale = cache.stale_documents(plan, values, affected)
                feeds = {feed.output: values.feed_value(feed) for feed in plan.lists.feeds}
                fill = self.filler(renderer, entries)
                documents = self.write_documents(
                    documented,
                    entries,
                    plan.needs,
                    stale,
                    renderer,
                    media,
                    writer,
                    plan.links,
                    # Needs no document: done here while worker processes render them.
                    meanwhile=lambda: self.stage_files(plan, fill, writer, replanned, feeds),
                    same_pages=not replanned,
                )
                notes = media.assets.image_warnings()
                rendered = {documented[index].output for index in stale}
                links_key = record.links_key  # with the plan, only ids can change it
                if replanned or _ids_changed(documents, record.outputs, rendered):
                    links_key = cache.links_key(
                        plan.outputs, documents, plan.published.left_out, notes
                    )
                templates = renderer.templates_digest()
                judged = cache.pages_to_judge(links_key, templates, documents, rendered)
                if judged is None:
                    to_judge = documented
                elif judged <= rendered:  # among the documents made here: found without a pass
                    to_judge = [documented[i] for i in stale if documented[i].output in judged]
                else:
                    to_judge = [page for page in documented if page.output in judged]
                documents, warnings = self.check_links(
                    to_judge, documents, plan.outputs, plan.published.left_out, notes
                )
                if strict and warnings:
                    raise _strict_failure(warnings)
            # With the last build's plan, the same files: none to delete.
            writer.commit(plan.outputs, record.files if replanned else ())
        if self.published is not None:
            self.published()
        gone = set(record.outputs) - set(documents) if replanned else set()
        cache.remember_documents(
            documents, values, plan.outputs, links_key, feeds, templates, affected
        )
        # Saved with the record (the CLI's); whole when it changed.
        cache.keep_plan(plan, new=replanned or needs_changed)
        cache.save(self.rendered, gone, None if judged is None else judged | self.rendered)
        usage = cache.template_usage(renderer)
        report = BuildReport(
            pages=len(documented),
            files=plan.files,
            seconds=time.perf_counter() - started,
            rendered=len(stale),
            from_cache=len(documented) - len(stale),
            markdown_rendered=self.markdown_rendered,
            warnings=(
                *renderer.theme.warnings,
                *plan.lists.warnings,
                *self.markup_warnings(plan, entries, replanned),
                *warnings,
            ),
            notes=self.unused_params(plan, usage.keys),
            images_processed=self.images_processed,
            planned=replanned,
        )
        if self.last is not None and self.last.trusted:
            self.last.keep(report, self.published_stamps(writer, plan), plan.valid_until)
        return report

    def markup_warnings(
        self, plan: SitePlan, entries: Mapping[str, PageEntry], replanned: bool
    ) -> list[LinkWarning]:
        """What rendering the bodies warned about (:func:`markup_warnings`): the last
        build's with its plan, unless a page read again warns now or did then."""
        fresh = self.cache.fresh_pages.values()
        sources = {entry.page.source for entry in fresh}
        if (
            replanned
            or plan.markup is None
            or any(entry.warnings for entry in fresh)
            or any(warning.path in sources for warning in plan.markup)
        ):
            plan.markup = markup_warnings(plan.lists.pages, entries)
        return plan.markup

    def unused_params(self, plan: SitePlan, used: frozenset[str] | None) -> tuple[str, ...]:
        """The front matter keys no template reads (:func:`.template_usage.unused_params`):
        the last build's with its plan (the same pages' front matter), while the templates
        read the same keys (``used``)."""
        if plan.notes is None or plan.notes[0] != used:
            plan.notes = (used, tuple(unused_params(plan.lists.pages, used)))
        return plan.notes[1]

    def published_stamps(self, writer: SiteWriter, plan: SitePlan) -> Stamps:
        """The size and mtime of every file this build published, as it learnt them: the
        documents' and feeds' from its record, the other files' from staging them (in this
        build or the plan's); a stat only for a file none of these holds (the marker)."""
        record = self.cache.context.records[self.cache.out]
        known = {output: (doc.size, doc.mtime_ns) for output, doc in record.outputs.items()}
        known.update((output, (size, mtime)) for output, (_, size, mtime) in record.feeds.items())
        known.update(plan.file_stamps)
        known.update(writer.stamps)
        out = self.cache.out
        outputs = [*(record.files or ()), MARKER]
        return {
            output: known.get(output) or file_stamp(os.path.join(out, output)) for output in outputs
        }

    # --- the site's shape ------------------------------------------------------------------

    def plan_key(self, rules: PublishRules) -> str:
        """What a site plan is made from besides the pages and the templates
        (:func:`.keys.plan_key`)."""
        options = (rules.drafts, rules.future, rules.preview)
        folders = str(self.config.root), str(self.image_cache)
        return plan_key(self.config, self.cache.endpoint, self.cache.code, options, *folders)

    def plan_site(
        self,
        key: str,
        sources: Sources,
        entries: dict[str, PageEntry],
        rules: PublishRules,
        renderer: Renderer,
    ) -> SitePlan:
        """The site's shape from the pages read (:mod:`.siteplan`): what is published, the
        lists and feeds, the aliases' pages, the media, the navigation."""
        read = [entry.page for entry in entries.values()]
        published = published_pages(read, rules)
        paginated: dict[str, None] = {}  # the templates asked, in order

        def paginates(template: str) -> bool:
            paginated[template] = None
            return renderer.paginates(template)

        lists = make_lists(self.config, published.pages, paginates)
        redirects, alias_errors = alias_pages(self.config, published.pages)
        return SitePlan(
            key=key,
            out=self.cache.out,
            sources=sources_of(sources.markdown, sources.assets),
            made=rules.now,
            valid_until=first_future_date(read, rules.now),
            shapes={path: shape_key(entry) for path, entry in entries.items()},
            # The pages {{< ref >}} may name: every page read, published or not.
            refs=PageRefs.of(self.config, read),
            published=published,
            lists=lists,
            redirects=redirects,
            alias_errors=alias_errors,
            documented=[*lists.pages, *redirects],
            generated=generated_entries(lists.pages),
            read={path: entry.page for path, entry in entries.items()},
            media=self.media(published.pages, lists.pages, sources.assets),
            links=renderer.site_links(lists.pages),
            paginated=tuple(paginated),
            templates=templates_read(renderer, paginated, self.cache.template_files()),
        )

    def stage_files(
        self,
        plan: SitePlan,
        fill: Callable[[Page], Page],
        writer: SiteWriter,
        replanned: bool,
        feeds: Mapping[str, str],
    ) -> None:
        """Stage every file besides the page documents (:func:`collect_files`) and make
        the new folders of the site's files, the documents' too (:meth:`.SiteWriter.make_folders`:
        aside until the commit). The feeds
        whose keys (``feeds``, by output) and published files are the last build's are kept
        as published; with the plan of the last build, only the feeds are looked at: the
        other files are as it left them."""
        unchanged = self.cache.unchanged_feeds(feeds)
        if replanned:
            files = collect_files(
                self.config,
                plan.documented,
                plan.media,
                fill,
                plan.lists.feeds,
                self.image_cache,
                unchanged,
            )
            writer.stage_all(files)
            plan.outputs, plan.files = files.outputs(), len(files)
            writer.make_folders(plan.outputs)  # (the documents' too: they are claimed)
            plan.file_stamps = {
                output: writer.stamps[output] for output, _ in files.items() if output not in feeds
            }
            return
        stale = [feed for feed in plan.lists.feeds if feed.output not in unchanged]
        if not stale:
            return
        rewrite = plan.media.assets.rewrite_urls
        writer.stage_all(
            feed_files(self.config, feeds_with_posts(plan.lists.pages, stale, fill), rewrite)
        )

    # --- pages and bodies ------------------------------------------------------------------

    def read_pages(
        self, paths: Sequence[str], rules: PublishRules
    ) -> tuple[dict[str, PageEntry], list[SiteError]]:
        """Every Markdown file's page, read again only when the cache layer says so, and the
        errors of the files that could not be read (each a value: the others go on).

        A file read is also rendered, unless its body's HTML is cached: one pass over the
        worker processes, and the body's text never crosses a process boundary.
        """
        cache = self.cache
        cache.forget_missing(paths)
        unread, entries = cache.pages_to_read(paths, rules)
        payload = (self.config, rules, cache.code["bodies"], cache.known_bodies())
        # Here, the context's Markdown renderer: making one costs more than rendering a page.
        here = _ReadState(*payload, cache.context.markdown)

        def keep(path: str, result):
            """A rendered body goes to the cache layer (and so to the cache file) as it
            comes: 20000 pages' bodies would not fit in memory together."""
            if isinstance(result, SiteError):
                return result
            stamp, entry, stored_as, rendered = result
            if rendered is not None:
                cache.remember_bodies({stored_as: rendered})
                self.markdown_rendered += 1
            return stamp, entry

        results = run_jobs(
            _read_job,
            unread,
            here,
            setup=_ReadState.setup,
            payload=lambda: payload,
            workers=self.workers,
            bar=self.bar,
            keep=keep,
        )
        cache.context.markdown = here.markdown
        fresh = {}
        errors = []
        for path, result in zip(unread, results, strict=True):
            if isinstance(result, SiteError):
                errors.append(result)
                continue
            stamp, entry = result
            fresh[path] = cache.read(path, stamp, entry)
        read = {
            path: found
            for path, entry in zip(paths, entries, strict=True)
            if (found := entry if entry is not None else fresh.get(path)) is not None
        }
        return read, errors

    # --- media -----------------------------------------------------------------------------

    def media(self, published: Sequence[Page], pages: Sequence[Page], assets: Sequence) -> Media:
        """The published names, image variants and social cards (:mod:`.media`) of
        ``pages``; what the image cache lacks is encoded here, over the worker processes.
        Bundles are the ``published`` pages' of ``content/`` (a generated page has none)."""
        bundles = follow_bundles(published, assets, self.config.content_dir)
        planned = self.cache.planned_assets(plan_assets)
        static = self.cache.files.get(str(self.config.static_dir))  # as the build's walk found
        media = plan_media(self.config, pages, bundles, planned, static)

        def run(job, items):
            return run_jobs(
                media_job,
                [(job, item) for item in items],
                None,
                setup=_no_state,
                payload=_no_state,
                workers=self.workers,
            )

        self.images_processed = make_media(media, self.image_cache, run)
        return media

    def renderer(self) -> Renderer:
        """The Jinja environment of this build: the last one while nothing it holds changed."""
        context, cache = self.cache.context, self.cache
        templates = cache.templates_digest()
        key = digest(templates, self.config.fingerprint(), cache.endpoint, cache.code["documents"])
        if context.renderer is None or context.renderer[0] != key:
            renderer = Renderer(
                self.config,
                checkout_endpoint=cache.endpoint,
                compiled_dir=_compiled(self.config),
                compiler_code=cache.code["templates"],
                templates_digest=templates,
            )
            context.renderer = (key, renderer)
        return context.renderer[1]

    def filler(self, renderer: Renderer, entries: dict[str, PageEntry]):
        """A function giving a page with its HTML, from the rendered body."""
        cache = self.cache

        def body(page: Page) -> RenderedMarkdown:
            key = cache.markdown_key(entries[page.path].body_key)
            return _rendered(cache.fresh_bodies.get(key) or cache.store.body(key), page)

        return _filler(renderer, body)

    # --- documents -------------------------------------------------------------------------

    def write_documents(
        self,
        pages: Sequence[Page],
        entries: dict[str, PageEntry],
        needs: Sequence[tuple[str, ...]],
        stale: Sequence[int],
        renderer: Renderer,
        media: Media,
        writer: SiteWriter,
        links: SiteLinks,
        meanwhile: Callable[[], object],
        same_pages: bool = False,
    ) -> dict[str, Output]:
        """Stage the documents of the ``stale`` pages; the others are the last build's.
        ``links``: the renderer's :meth:`~.render.Renderer.site_links` of the pages (workers
        need not find them again). ``meanwhile()`` is the caller's other work, done while
        workers render them. ``same_pages``: the pages are those of the last build (its
        plan's), whose record holds their documents and no other."""
        cache = self.cache
        record = cache.record()
        if same_pages:
            documents = dict(record.outputs)
        else:
            documents = {
                page.output: record.outputs[page.output]
                for page in pages
                if page.output in record.outputs
            }
        cache.flush()  # workers read the fresh bodies from the cache file
        state = _DocumentState(pages, renderer, self.filler(renderer, entries), writer, media)

        def payload() -> _DocumentPayload:
            keys = [cache.markdown_key(entries[page.path].body_key) for page in pages]
            store, out = str(cache.store.path), str(writer.out)
            return _DocumentPayload(
                self.config,
                cache.endpoint,
                cache.code["templates"],
                list(pages),
                keys,
                store,
                out,
                media.for_documents(),
                renderer.refs,
                links,
            )

        def keep(index: int, result: tuple) -> tuple:
            """All but the links, which go to the cache file when they changed (20000 pages'
            would not fit in memory)."""
            size, mtime_ns, links, links_key, ids, changed = result
            cache.add_links(pages[index].output, links, links_key)
            return size, mtime_ns, links_key, ids, changed

        results = run_jobs(
            _document_job,
            stale,  # by index: the workers have the pages from the payload
            state,
            setup=_DocumentPayload.setup,
            payload=payload,
            workers=self.workers,
            bar=self.bar,
            keep=keep,
            meanwhile=meanwhile,
        )
        cache.flush()
        for index, (size, mtime_ns, links_key, ids, changed) in zip(stale, results, strict=True):
            output = pages[index].output
            ids_key = digest(*sorted(ids))
            documents[output] = Output(needs[index], size, mtime_ns, ids, ids_key, (), links_key)
            self.rendered.add(output)
            if changed:
                writer.staged(output)
        return documents

    # --- links -----------------------------------------------------------------------------

    def check_links(
        self,
        pages: Sequence[Page],
        documents: dict[str, Output],
        outputs: list[str],
        left_out: Mapping[str, str],
        notes: Mapping[str, str],
    ) -> tuple[dict[str, Output], list[LinkWarning]]:
        """The built site's broken internal links, and the documents with their warnings.

        Only the links of ``pages`` are judged (all pages, when what links are judged
        against changed); the other ``documents`` keep the last build's warnings.
        ``left_out`` (URL: why) turns a link to a draft or future page into a warning
        saying so; ``notes`` (output: warning) one to an image published without variants.
        """
        found = check_links(
            pages,
            _StoredLinks(self.cache, [page.output for page in pages]),
            _DocumentIds(documents, self.cache, many=len(pages) > _FEW_PAGES),
            outputs,
            self.config.site.base_url,
            self.config.templates_dir,
            left_out,
            notes,
        )
        judged = dict(documents)
        for output, warnings in found.items():
            stored = tuple(astuple(warning) for warning in warnings)
            if stored != documents[output].warnings:
                judged[output] = documents[output]._replace(warnings=stored)
        kept = {
            output: _warnings(document.warnings)
            for output, document in documents.items()
            if document.warnings and output not in found
        }
        return judged, all_warnings({**kept, **found})


class _DocumentIds(Mapping[str, frozenset[str]]):
    """The ids of each page document (what its links' #fragments may name), by output:
    those of the last build's documents read from the cache file when the checker asks,
    all at once when it judges many pages' links (``many``), else one by one."""

    def __init__(self, documents: Mapping[str, Output], cache: BuildCache, many: bool) -> None:
        self.documents = documents
        self.cache = cache
        self.many = many
        self.stored: Mapping[str, frozenset[str]] | None = None

    def __getitem__(self, output: str) -> frozenset[str]:
        ids = self.documents[output].ids
        if ids is not None:
            return ids
        if self.stored is None:
            self.stored = self.cache.stored_ids() if self.many else {}
        found = self.stored.get(output)
        return found if found is not None else self.cache.ids_of(output)

    def __iter__(self) -> Iterator[str]:
        return iter(self.documents)

    def __len__(self) -> int:
        return len(self.documents)


class _StoredLinks(Mapping[str, Links]):
    """The links of each page document, read from the cache file when the checker asks:
    those of the outputs it will ask for in ``order`` a batch at a time (a query per page
    was a fifth of a cold build's link check; all at once would hold 20000 pages' links)."""

    def __init__(self, cache: BuildCache, order: Sequence[str]) -> None:
        self.cache = cache
        self.order = list(order)
        self.place = {output: index for index, output in enumerate(self.order)}
        self.batch: dict[str, Links] = {}

    def __getitem__(self, output: str) -> Links:
        if output not in self.batch:
            index = self.place.get(output)
            if index is None:  # (not one it was told of: read alone)
                return self.cache.links_of_many([output])[output]
            self.batch = self.cache.links_of_many(self.order[index : index + _LINKS_AT_ONCE])
        return self.batch[output]

    def __iter__(self) -> Iterator[str]:
        return iter(self.cache.record().outputs)

    def __len__(self) -> int:
        return len(self.cache.record().outputs)


def _ids_changed(
    documents: Mapping[str, Output], last: Mapping[str, Output], outputs: Iterable[str]
) -> bool:
    """Whether the ids of one of ``outputs`` differ from the last build's."""
    return any(
        output not in last or documents[output].ids_key != last[output].ids_key
        for output in outputs
    )


def _warnings(stored: tuple) -> tuple[LinkWarning, ...]:
    return tuple(LinkWarning(*warning) for warning in stored) if stored else ()


def collect_files(
    config: SiteConfig,
    pages: Sequence[Page],
    media: Media,
    fill,
    feeds: Sequence[Feed],
    image_cache: Path,
    unchanged_feeds: Collection[str] = (),
) -> SiteFiles:
    """Every file of the site besides the page documents of ``pages`` (whose paths it
    reserves; aliases' pages too): sitemap/robots/feeds (their references fingerprinted),
    static/ and the files beside pages (fingerprinted; a moved bundle's beside its page),
    image variants, social cards. The feeds in ``unchanged_feeds`` (by output) are kept as
    published, not made again."""
    files = SiteFiles()
    for output in unchanged_feeds:
        files.keep(output, f"the generated {output}")
    feeds = [feed for feed in feeds if feed.output not in unchanged_feeds]
    for page in pages:
        files.reserve(page.output, page.source)
    pages = [page for page in pages if not page.redirect_to]
    with_posts = feeds_with_posts(pages, feeds, fill)
    for output, data in extra_files(config, pages, with_posts, media.assets.rewrite_urls).items():
        files.add(output, data, f"the generated {output}")
    media.add_files(files, pages, image_cache)
    return files


def feeds_with_posts(
    pages: Sequence[Page], feeds: Sequence[Feed], fill: Callable[[Page], Page]
) -> list[tuple[Feed, list[Page]]]:
    """Each feed with its entries' pages, their HTML filled in (a post in several feeds
    is filled once)."""
    by_source = {page.source: page for page in pages}
    filled: dict[str, Page] = {}

    def entry(source: str) -> Page:
        if source not in filled:
            filled[source] = fill(by_source[source])
        return filled[source]

    return [(feed, [entry(source) for source in feed.entries]) for feed in feeds]


def markup_warnings(pages: Sequence[Page], entries: Mapping[str, PageEntry]) -> list[LinkWarning]:
    """What rendering the bodies warned about (Liquid tags shown as text), by page and line."""
    return [
        LinkWarning(page.source, line, message)
        for page in pages
        for line, message in entries[page.path].warnings
    ]


def _strict_failure(warnings: Sequence[LinkWarning]) -> SiteError:
    listed = "\n".join(str(warning) for warning in warnings)
    return SiteError(
        f"{listed}\n{len(warnings)} broken link(s) and --strict: nothing published",
        hint="fix the links above, or build without --strict to publish anyway",
    )


@contextmanager
def _progress_bar(show: bool) -> Iterator[Progress]:
    """A tqdm bar on stderr, removed when done; imported only when shown (it costs 50 ms)."""
    if not show:
        yield NoProgress()
        return
    from tqdm import tqdm

    with tqdm(total=0, unit="page", desc="Rendering", leave=False) as bar:
        yield bar


# --- the jobs, run here or in worker processes ----------------------------------------------


@dataclass
class _ReadState:
    """What reading a page needs: the config, the publishing rules, the Markdown code's
    key and the keys of the cached bodies."""

    config: SiteConfig
    rules: PublishRules
    markdown_code: str
    cached: set[str]
    markdown: MarkdownRenderer | None

    @staticmethod
    def setup(payload: tuple[SiteConfig, PublishRules, str, set[str]]) -> _ReadState:
        return _ReadState(*payload, None)


def _read_job(state: _ReadState, path: str):
    """Read one page; render its body unless cached: (stamp before, entry, body key, body),
    or the page's SiteError (a value, so that every page's errors are found)."""
    return attempt(_read, state, path)


def _read(state: _ReadState, path: str):
    stamp = file_stamp(path)
    page, body = read_source(Path(path), state.config)
    key = body_key(body.text, body.first_line)
    stored_as = markdown_key(state.markdown_code, key)
    rendered, warnings, shortcodes = None, (), ()
    if stored_as in state.cached:  # its shortcodes and warnings as rendering gave them
        _, shortcodes, warnings = parse_shortcodes(
            body.text, source=page.source, first_line=body.first_line
        )
    elif state.rules.left_out(page) is None:
        if state.markdown is None:
            state.markdown = MarkdownRenderer()
        result = state.markdown.render(body.text, source=page.source, first_line=body.first_line)
        rendered, warnings, shortcodes = result.to_entry(), result.warnings, result.shortcodes
    # else: not published, not rendered; read again once published (see pages_to_read)
    uses = shortcode_needs(shortcodes, page.source)
    front = front_key(page)
    shortcodes = "{{<" in body.text
    entry = PageEntry(None, page, key, shortcodes, front, page_key(front, key), warnings, uses)
    return stamp, entry, stored_as, rendered


@dataclass
class _DocumentState:
    pages: Sequence[Page]
    renderer: Renderer
    fill: object
    writer: SiteWriter
    media: Media


@dataclass(frozen=True)
class _DocumentPayload:
    """What a worker needs to render documents: it reads the bodies from the cache file."""

    config: SiteConfig
    endpoint: str
    code: str  # the template compiler's code fingerprint: where compiled templates are
    pages: list[Page]
    keys: list[str]
    store: str
    out: str
    media: Media  # without the published files' bytes (Media.for_documents)
    refs: PageRefs
    links: SiteLinks  # Renderer.site_links, as the parent found them

    def setup(self) -> _DocumentState:
        renderer = Renderer(
            self.config,
            checkout_endpoint=self.endpoint,
            compiled_dir=_compiled(self.config),
            compiler_code=self.code,
        )
        renderer.env.globals["social_image"] = self.media.social_image
        store = Store(Path(self.store), readonly=True)
        keys = {page.path: key for page, key in zip(self.pages, self.keys, strict=True)}
        fill = _filler(renderer, lambda page: _rendered(store.body(keys[page.path]), page))
        listed = [page for page in self.pages if not page.redirect_to]
        renderer.use_pages(listed, fill, self.refs, self.links)
        return _DocumentState(self.pages, renderer, fill, SiteWriter(Path(self.out)), self.media)


def _document_job(state: _DocumentState, index: int):
    """Render and stage the document of page ``index``: (size, mtime, links, the links'
    key, ids, changed)."""
    page = state.pages[index]
    html = state.renderer.render_document(state.fill(page))  # type: ignore[operator]
    document = state.media.assets.rewrite_document(html.decode("utf-8"), page).encode("utf-8")
    stat, changed = state.writer.stage(page.output, document)
    links, ids = extract_links(document)
    return stat.st_size, stat.st_mtime_ns, links, page_links_key(page.url, links), ids, changed


def _filler(renderer: Renderer, body: Callable[[Page], RenderedMarkdown]) -> Callable[[Page], Page]:
    """A function giving a page with its HTML from ``body`` (its rendered Markdown); an
    alias's or a list's page has none of its own."""

    def fill(page: Page) -> Page:
        return renderer.fill_in(page, body(page)) if page.has_body else page

    return fill


def _rendered(entry: object, page: Page) -> RenderedMarkdown:
    """A rendered body from the cache file; rendered here if the cache lost it meanwhile
    (another build of the same site, in another process, keeps only its own bodies)."""
    if entry is not None:
        return RenderedMarkdown.from_entry(entry)  # type: ignore[arg-type]
    body = read_body(Path(page.path))
    return MarkdownRenderer().render(body.text, source=page.source, first_line=body.first_line)


def _no_state(*_: object) -> None:
    return None


def _compiled(config: SiteConfig) -> Path:
    """Where Jinja keeps compiled templates between builds (its bytecode cache, in a folder
    named by the compiler's code: :func:`.compiled.compiled_folder`)."""
    return config.root / CACHE_FOLDER / "templates"


__all__ = ["BuildReport", "build_site", "collect_files"]
