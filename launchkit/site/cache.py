"""The cache layer: which results of the last build this one may reuse, decided in one place.

The pipeline's steps (:mod:`~launchkit.site.content`, :mod:`~launchkit.site.markup`,
:mod:`~launchkit.site.render`, :mod:`~launchkit.site.linkcheck`) are pure and know nothing of
this module. The builder asks it, per step, what must be redone, runs the step for that
only, and hands the results back to be remembered (the shape of Pelican's
``CachingGenerator``). Every key ingredient comes from :mod:`~launchkit.site.keys`; what
outlives a build lives in the caller's :class:`~launchkit.site.context.BuildContext` and in
the cache file (:mod:`~launchkit.site.store`).

One record of what each output was made from (the idea of Hugo's ``identity`` package):
each page document *needs* a few named identities (``page:content/x.md``,
``template:post.html``, ``config:products``, ``listing``, ``nav``, ``code:documents``…), and
the :class:`Record` of the last build holds the value each identity had. A document must be
made again when one of its identities changed value, when it is new, or when its file is
not the one the last build wrote; a new kind of output only has to say what it needs.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import NamedTuple

from ..config import SiteConfig
from .content import Page, Sources, find_sources, is_hidden, walk_files
from .context import BuildContext
from .keys import (
    Identities,
    config_table,
    digest,
    front_key,
    links_key,
    markdown_extension_modules,
    markdown_key,
    page_key,
    pages_scope,
)
from .linkcheck import Links
from .markup import EXTENSIONS
from .media import PlanAssets
from .publishing import PublishRules
from .render import Renderer, templates_digest
from .siteplan import SitePlan, shape
from .store import CACHE_FOLDER, FILE_NAME, Store
from .template_usage import TemplateUsage

# Rendered bodies (and documents' links) kept in memory before they go to the cache file.
_BODIES_IN_MEMORY = 200
# A file changed less than this long before it was read may change again within the same
# mtime tick (the kernel's clock is coarse): its page is not remembered by size and mtime.
SETTLED_NS = 2_000_000_000

# The link checker's warnings about one page, as (path, line, message).
Warnings = tuple[tuple[str, int | None, str], ...]


class PageEntry(NamedTuple):
    """What one Markdown file gave when last read."""

    stamp: tuple[int, int] | None  # its size and mtime then; None: too fresh to trust
    page: Page
    body_key: str  # a hash of the body and its first line
    shortcodes: bool  # whether the body may hold a shortcode (its HTML then needs forms)
    front: str  # a hash of the page without its body (keys.front_key): what lists show
    key: str  # a hash of all of it: the value of the identity "page:<source>"
    warnings: tuple[tuple[int, str], ...] = ()  # its body's, as (line, message)
    uses: tuple[str, ...] = ()  # what its built-in shortcodes need (refs.shortcode_needs)


class Output(NamedTuple):
    """One page document of the last build: what it needed, its file, its links' targets."""

    needs: tuple[str, ...]
    size: int
    mtime_ns: int
    ids: frozenset[str]  # the ids other pages' #fragments may point to
    ids_key: str  # a hash of them
    warnings: Warnings


@dataclass
class Record:
    """What the last build into one output folder was made from.

    ``values``: each identity's value then; ``outputs``: the page documents; ``files``:
    every published path (None: unknown); ``links_key``: what the links were checked with;
    ``feeds``: each Atom feed's key (:meth:`.keys.Identities.feed_value`) and its published
    file's size and mtime.
    ``templates``: the digest of the templates the warnings were placed in (a warning may
    name a template's line).
    """

    values: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    files: frozenset[str] | None = None
    links_key: str = ""
    feeds: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    templates: str = ""


class BuildCache:
    """One build's view of the cache: the context's memory and the cache file."""

    def __init__(
        self,
        context: BuildContext,
        config: SiteConfig,
        out: str,
        *,
        clean: bool,
        changed: Iterable[str] | None,
        endpoint: str,
        stamps: Mapping[str, tuple[int, int] | None] | None = None,
        files: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if clean:
            context.forget()
        self.context = context
        # The stamps of the site's files taken as the build began (.unchanged), if it did,
        # and the files of its folders as that walk found them: not walked again.
        self.stamps = stamps or {}
        self.files = files or {}
        self.config = config
        self.out = out
        self.clean = clean
        self.endpoint = endpoint
        self.store = Store(config.root / CACHE_FOLDER / FILE_NAME)
        self.code = code_keys(context)
        scope = pages_scope(self.code["pages"], config)
        # The preview names what changed; without the last build's reading in memory, or
        # when the code or [site] changed, every file is looked at.
        self.changed = None
        known = context.content_files is not None and context.pages_scope == scope
        if changed is not None and known:
            self.changed = set(changed)
        if context.pages_scope != scope:
            context.pages = {} if clean else self._stored_pages(scope)
            context.content_files = None
            context.pages_scope = scope
        self.fresh_bodies: dict[str, object] = {}
        self.fresh_links: dict[str, Links] = {}
        self.bodies_changed = False
        self.last_record = Record()
        self.fresh_pages: dict[str, PageEntry] = {}
        self.gone_pages: set[str] = set()

    def close(self) -> None:
        self.store.close()

    # --- content/ ------------------------------------------------------------------------

    def _stored_pages(self, scope: str) -> dict[str, PageEntry]:
        stored = self.store.pages()
        return {
            path: entry
            for path, (entry_scope, entry) in stored.items()
            if entry_scope == scope and isinstance(entry, PageEntry)
        }

    def sources(self) -> Sources:
        """The Markdown files and other files of ``content/`` (:func:`.content.find_sources`):
        when the preview names what changed, the last build's, updated with those paths
        (the same object when none of them added or removed a file); else the folder as the
        build's first walk found it, or walked now."""
        known, last = self.context.content_files, self.context.sources
        if self.changed is None or known is None or last is None:
            walked = self.files.get(str(self.config.content_dir))
            sources = find_sources(self.config, walked, ordered=walked is not None)
        elif not self._update_content_files(known):
            return last
        else:
            sources = find_sources(self.config, sorted(known))
        self.context.content_files = {*sources.markdown, *(str(a.path) for a in sources.assets)}
        self.context.sources = sources
        return sources

    def _update_content_files(self, known: set[str]) -> bool:
        """Take the changed paths into ``known``, the files of ``content/``: whether any
        file came or went."""
        root = str(self.config.content_dir)
        altered = False
        for path in self.changed or ():
            if not (path == root or path.startswith(root + os.sep)):
                continue
            inside = [name for name in known if name.startswith(path + os.sep)]
            if inside:  # a folder moved or deleted
                known.difference_update(inside)
                altered = True
            if path != root and is_hidden(PurePath(os.path.relpath(path, root))):
                continue  # an editor's swap file, a .git folder: not the site's
            if os.path.isfile(path):
                altered = altered or path not in known
                known.add(path)
                continue
            if path in known:
                known.discard(path)
                altered = True
            if os.path.isdir(path):  # a folder created or moved in: what it holds is new
                known.update(walk_files(Path(path)))
                altered = True
        return altered

    def pages_to_read(
        self, paths: Sequence[str], rules: PublishRules
    ) -> tuple[list[str], list[PageEntry | None]]:
        """For each Markdown file its remembered entry, or None; and the paths to read."""
        known = self.context.pages
        entries: list[PageEntry | None] = []
        if self.changed is not None:
            for path in paths:
                entry = known.get(path)
                entries.append(None if entry is None or path in self.changed else entry)
        else:
            for path in paths:
                entry = known.get(path)
                if entry is not None and (entry.stamp is None or entry.stamp != self.stamp(path)):
                    entry = None
                entries.append(entry)
        # A page to publish whose rendered body is no longer cached is read again too.
        bodies = self.known_bodies()
        for index, entry in enumerate(entries):
            if entry is None or rules.left_out(entry.page) is not None:
                continue
            if self.markdown_key(entry.body_key) not in bodies:
                entries[index] = None
        return [path for path, entry in zip(paths, entries, strict=True) if entry is None], entries

    def stamp(self, path: str) -> tuple[int, int] | None:
        """A file's size and mtime: as the build began, when it took them, else now."""
        return self.stamps[path] if path in self.stamps else file_stamp(path)

    def known_bodies(self) -> set[str]:
        """The keys of the rendered bodies in the cache file (none when clean)."""
        if self.clean:
            return self.context.bodies
        if not self.context.bodies:
            self.context.bodies = self.store.body_keys()
        return self.context.bodies

    def markdown_key(self, key: str) -> str:
        """The key of a rendered body: its text and the Markdown code and settings."""
        return markdown_key(self.code["bodies"], key)

    def read(self, path: str, stamp_before: tuple[int, int] | None, entry: PageEntry) -> PageEntry:
        """Remember a page just read (with the stamp its file had before reading)."""
        settled = time.time_ns() - SETTLED_NS
        trusted = stamp_before if stamp_before is not None and stamp_before[1] < settled else None
        entry = entry._replace(stamp=trusted)
        self.context.pages[path] = entry
        self.fresh_pages[path] = entry
        return entry

    def forget_missing(self, paths: Iterable[str]) -> None:
        """Forget the pages whose files are gone."""
        present = set(paths)
        for path in [path for path in self.context.pages if path not in present]:
            del self.context.pages[path]
            self.gone_pages.add(path)

    def remember_bodies(self, bodies: Mapping[str, object]) -> None:
        self.fresh_bodies.update(bodies)
        self.context.bodies.update(bodies)
        self.bodies_changed = True
        if len(self.fresh_bodies) >= _BODIES_IN_MEMORY:
            self.flush()

    def flush(self) -> None:
        """Write the bodies and links made so far to the cache file, and let go of them."""
        if self.fresh_bodies:
            self.store.write(bodies=self.fresh_bodies)
            self.fresh_bodies = {}
        if self.fresh_links:
            self.store.write(links=(self.out, self.fresh_links))
            self.fresh_links = {}

    def add_links(self, output: str, links: Links) -> None:
        """Keep the links of a document made in this build (in the cache file)."""
        self.fresh_links[output] = links
        if len(self.fresh_links) >= _BODIES_IN_MEMORY:
            self.flush()

    def templates_digest(self) -> str:
        """A hash of the templates (:func:`.render.templates_digest`): the last renderer's
        when the preview names what changed and no template is among it."""
        folder = self.config.templates_dir
        known = self.context.renderer
        if known is not None and self.changed is not None and known[1].templates_dir == folder:
            inside = str(folder) + os.sep
            if not any(path.startswith(inside) or path == str(folder) for path in self.changed):
                return known[1].templates_digest()
        return templates_digest(folder, self.files.get(str(folder)))

    def template_usage(self, renderer: Renderer) -> TemplateUsage:
        """The page data keys the templates read: the last build's while no template
        changed (kept in the cache file), else found again."""
        known = self.context.template_usage
        if known is None and not self.clean:
            stored = self.store.meta("template usage")
            known = stored if isinstance(stored, TemplateUsage) else None
        usage = TemplateUsage.of(renderer.templates_digest(), renderer.page_keys, known)
        if usage != known:
            self.store.write(meta={"template usage": usage})
        self.context.template_usage = usage
        return usage

    # --- the site's shape -------------------------------------------------------------------

    def site_plan(
        self, key: str, now: dt.datetime, sources: tuple[tuple[str, ...], ...]
    ) -> SitePlan | None:
        """The last good build's plan (:mod:`.siteplan`), when this build may take it as it
        is: the preview named the changes, all of them in ``content/``, which holds the same
        files (``sources``), no page read again changed its :func:`.siteplan.shape`, no page
        came of age, and nothing else of ``key`` changed."""
        plan = self.context.plan
        if plan is None or self.changed is None:
            return None
        if (plan.key, plan.out, plan.sources) != (key, self.out, sources):
            return None
        if plan.valid_until is not None and now >= plan.valid_until:
            return None
        root = str(self.config.content_dir) + os.sep
        files = self.context.content_files or set()
        for path in self.changed:
            if not path.startswith(root) or os.path.isdir(path):
                return None  # a template, static/, the config file, a folder: planned afresh
            if path in files and path not in self.fresh_pages:
                return None  # a file beside the pages (published as it is)
            # else a page read again (below), or no file of the site: an editor's swap
            # file, a file written and removed again
        for path, entry in self.fresh_pages.items():
            known = plan.shapes.get(path)
            if known is None or shape(known) != shape(entry):
                return None
        return plan

    def keep_plan(self, plan: SitePlan | None) -> None:
        """Keep the plan of a build that worked, for the next."""
        self.context.plan = plan

    # --- media -------------------------------------------------------------------------------

    def planned_assets(self, plan: PlanAssets) -> PlanAssets:
        """``plan`` (:func:`.assets.plan_assets`: it reads and hashes every file of static/
        and the bundles, and reads each image's header) with its result kept, by the size
        and mtime of those files (trusted as for pages), the config and the media code."""

        def cached(config: SiteConfig, sources: Mapping[str, Path], keep: Iterable[str]):
            keep = sorted(set(keep))
            stamps = [(out, str(path), self.stamp(str(path))) for out, path in sources.items()]
            settled = time.time_ns() - SETTLED_NS
            trusted = all(stamp is not None and stamp[1] < settled for _, _, stamp in stamps)
            key = digest(
                self.code["media"],
                config_table(config, "site"),
                config_table(config, "theme"),
                repr(sorted(stamps)),
                repr(keep),
            )
            known = self.context.assets
            if trusted and known is None and not self.clean:
                known = self.store.meta("assets")
            if trusted and isinstance(known, tuple) and len(known) == 2 and known[0] == key:
                self.context.assets = known
                return known[1]
            assets = plan(config, sources, keep)
            self.context.assets = (key, assets) if trusted else None
            if trusted:
                self.store.write(meta={"assets": (key, assets)})
            return assets

        return cached

    # --- documents -------------------------------------------------------------------------

    def record(self) -> Record:
        """What the last build into this folder left (nothing when clean)."""
        records = self.context.records
        if self.out not in records:
            stored = None if self.clean else self.store.record(self.out)
            record = stored if isinstance(stored, Record) else Record()
            if record.values:
                record.outputs = _outputs(self.store.outputs(self.out))
            records[self.out] = record
        return records[self.out]

    def identities(
        self,
        pages: Sequence[Page],
        entries: Mapping[str, PageEntry],
        renderer: Renderer,
        media: Mapping[str, str] | None = None,
    ) -> Identities:
        """The value of every identity in this build (:class:`.keys.Identities`); ``media``:
        the media step's (:meth:`.media.Media.identities`)."""
        return Identities(self.config, self.code, self.endpoint, pages, entries, renderer, media)

    def stale_documents(
        self, pages: Sequence[Page], needs: Sequence[tuple[str, ...]], values: Identities
    ) -> list[int]:
        """The indexes of the pages whose documents must be made again.

        A document is made again when it is new, needs something else, one of its needs
        changed value, or (the CLI) its file is not the one the last build wrote.
        """
        record = self.record()
        changed = {name for name, value in record.values.items() if values.get(name) != value}
        check_files = self.changed is None
        stale = []
        for index, (page, needed) in enumerate(zip(pages, needs, strict=True)):
            known = record.outputs.get(page.output)
            if (
                known is None
                or known.needs != needed
                or not changed.isdisjoint(needed)
                or (check_files and not _same_file(self.out, page.output, known))
            ):
                stale.append(index)
        return stale

    def unchanged_feeds(self, keys: Mapping[str, str]) -> set[str]:
        """The feeds (by output; ``keys``: each one's key now) made from what the last
        build's were, whose published files are still the ones it wrote: not made again."""
        known = self.record().feeds
        return {
            output
            for output, key in keys.items()
            if output in known
            and known[output][0] == key
            and file_stamp(os.path.join(self.out, output)) == known[output][1:]
        }

    def remember_documents(
        self,
        outputs: dict[str, Output],
        values: Identities,
        files: Iterable[str],
        links_key: str,
        feeds: Mapping[str, str],
        templates: str,
    ) -> None:
        """The record of this build: its documents and the values of what they needed, and
        its feeds' keys (``feeds``, by output) with their published files' stamps."""
        needed = {name for output in outputs.values() for name in output.needs}
        record = Record({name: values.get(name) for name in needed}, outputs, frozenset(files))
        record.links_key, record.templates = links_key, templates
        for output, key in feeds.items():
            stamp = file_stamp(os.path.join(self.out, output))
            if stamp is not None:
                record.feeds[output] = (key, *stamp)
        self.last_record, self.context.records[self.out] = self.record(), record

    # --- links -------------------------------------------------------------------------------

    def links_key(
        self,
        outputs: Iterable[str],
        documents: Mapping[str, Output],
        left_out: Mapping[str, str],
        notes: Mapping[str, str],
    ) -> str:
        """What every page's link warnings were judged against (:func:`.keys.links_key`)."""
        ids = {output: document.ids_key for output, document in documents.items()}
        return links_key(self.code["links"], self.config, outputs, ids, left_out, notes)

    def pages_to_judge(self, links_key: str, templates: str, rendered: set[str]) -> set[str] | None:
        """The outputs whose links must be judged again: all (None) when what links are
        judged against changed; else the documents made in this build and, when a template
        changed, those with warnings (which may name a line of one; a page without warnings
        has none to place)."""
        record = self.record()
        if links_key != record.links_key:
            return None
        if templates == record.templates:
            return rendered
        return rendered | {output for output, known in record.outputs.items() if known.warnings}

    def links_of(self, output: str) -> Links:
        """The links of a page document the last build made."""
        return tuple(tuple(link) for link in self.store.links(self.out, output) or ())

    # --- the end ---------------------------------------------------------------------------

    def save(self, rendered: set[str], gone_outputs: Iterable[str]) -> None:
        """Write what this build learnt to the cache file: the rows that changed."""
        scope = self.context.pages_scope
        record = self.context.records[self.out]
        before = self.last_record.outputs
        changed = {
            output: tuple(document)
            for output, document in record.outputs.items()
            if output in rendered or before.get(output) != document
        }
        current, gone = None, set()
        if self.bodies_changed:  # the cache keeps the bodies of the pages it knows
            current = {self.markdown_key(e.body_key) for e in self.context.pages.values()}
            # The context knows every body in the file (it read their keys, or a save
            # pruned the file to them), but for a clean build's: it prunes to the current.
            gone = self.context.bodies - current
            self.context.bodies = current
        self.store.write(
            pages={path: (scope, entry) for path, entry in self.fresh_pages.items()},
            forget_pages=self.gone_pages,
            bodies=self.fresh_bodies,
            keep_bodies=current if self.clean else None,
            forget_bodies=() if self.clean else gone,
            record=(self.out, replace(record, outputs={})),  # the outputs have their rows
            outputs=(self.out, changed, gone_outputs),
        )


def code_keys(context: BuildContext) -> dict[str, str]:
    """The code each step's results are keyed by (:meth:`.keys.Codebase.fingerprint`)."""
    code = context.code()
    return {
        "pages": code.fingerprint("pages"),
        "bodies": code.fingerprint("bodies", markdown_extension_modules(EXTENSIONS)),
        "documents": code.fingerprint("documents"),
        "links": code.fingerprint("links"),
        "media": code.fingerprint("media"),
    }


def generated_entries(pages: Iterable[Page]) -> dict[str, PageEntry]:
    """An entry for each generated page (a tag's, a blog's second page), by its path: no
    file, no body; its identity ``page:<source>`` is all it is (its listing included)."""
    entries = {}
    for page in pages:
        if page.generated:
            front = front_key(page)
            entries[page.path] = PageEntry(None, page, "", False, front, page_key(front, ""))
    return entries


def _outputs(stored: dict[str, tuple]) -> dict[str, Output]:
    """The stored rows as :class:`Output` records, sharing equal ``needs`` tuples."""
    shapes: dict[tuple, tuple] = {}
    outputs = {}
    for output, fields in stored.items():
        try:
            needs = shapes.setdefault(fields[0], fields[0])
            outputs[output] = Output(needs, *fields[1:])
        except (TypeError, IndexError):
            continue  # not a row of this format: that output is made again
    return outputs


def file_stamp(path: str) -> tuple[int, int] | None:
    """A file's size and mtime (ns), or None when it is gone."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _same_file(out: str, output: str, known: Output) -> bool:
    """Whether the published file is still the one the record describes (nobody edited it)."""
    try:
        stat = os.stat(os.path.join(out, output))
    except OSError:
        return False
    return stat.st_size == known.size and stat.st_mtime_ns == known.mtime_ns


__all__ = [
    "BuildCache",
    "Links",
    "Output",
    "PageEntry",
    "Record",
    "Warnings",
    "code_keys",
    "file_stamp",
    "generated_entries",
]
