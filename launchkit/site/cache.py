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
import operator
import os
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import compress, count
from pathlib import Path, PurePath
from typing import NamedTuple

from ..config import SiteConfig
from .content import Page, Sources, find_sources, is_hidden, walk_files
from .context import BuildContext
from .keys import (
    COMPILER,
    Identities,
    config_table,
    digest,
    front_key,
    links_key,
    markdown_extension_modules,
    markdown_key,
    markdown_prefix,
    page_key,
    pages_scope,
)
from .linkcheck import Links
from .markup import EXTENSIONS
from .media import PlanAssets
from .publishing import PublishRules
from .render import Renderer, templates_digest
from .siteplan import (
    FileStamp,
    KeptPlan,
    SitePlan,
    edited_files,
    plan_bytes,
    plan_from,
)
from .store import Store
from .template_usage import TemplateUsage

# Rendered bodies (and documents' links) kept in memory before they go to the cache file.
_BODIES_IN_MEMORY = 200
# A file changed less than this long before it was read may change again within the same
# mtime tick (the kernel's clock is coarse): its page is not remembered by size and mtime.
SETTLED_NS = 2_000_000_000

# The link checker's warnings about one page, as (path, line, message).
Warnings = tuple[tuple[str, int | None, str], ...]


class PageEntry(NamedTuple):
    """What one Markdown file gave when last read. Its ``page`` is None in an entry just
    loaded from the cache file, until :meth:`BuildCache.with_pages` fills it in (the rest
    is plain values, cheap to load; the pages come from the plan taken, if one is)."""

    stamp: FileStamp  # its size and mtime then; None: too fresh to trust
    page: Page
    body_key: str  # a hash of the body and its first line
    shortcodes: bool  # whether the body may hold a shortcode (its HTML then needs forms)
    front: str  # a hash of the page without its body (keys.front_key): what lists show
    key: str  # a hash of all of it: the value of the identity "page:<source>"
    warnings: tuple[tuple[int, str], ...] = ()  # its body's, as (line, message)
    uses: tuple[str, ...] = ()  # what its built-in shortcodes need (refs.shortcode_needs)


class Output(NamedTuple):
    """One page document of the last build: what it needed, its file, its links' targets,
    its links' warnings and what they were judged from."""

    needs: tuple[str, ...]
    size: int
    mtime_ns: int
    # The ids other pages' #fragments may point to; None: in the cache file, read when a
    # link to the page is judged (BuildCache.ids_of: most builds judge a few pages' links).
    ids: frozenset[str] | None
    ids_key: str  # a hash of them
    warnings: Warnings
    links_key: str = ""  # a hash of its links and URL (keys.page_links_key); "": unknown


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
        store: Store,
        out: str,
        *,
        clean: bool,
        changed: Iterable[str] | None,
        endpoint: str,
        stamps: Mapping[str, FileStamp] | None = None,
        settled_before: int = 0,
        files: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if clean:
            context.forget()
        self.context = context
        # The stamps of the site's files taken as the build began (.unchanged), if it did,
        # and the files of its folders as that walk found them: not walked again. Files
        # changed at or after ``settled_before`` (ns) then are not trusted by their stamps.
        self.stamps = stamps or {}
        self.files = files or {}
        self.settled_before = settled_before
        self.config = config
        self.out = out
        self.clean = clean
        self.endpoint = endpoint
        self.store = store  # the build's open cache file (the caller closes it)
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
        self.same_files = False  # content/ holds the files the last build read (sources)
        # The pages edited since the plan this build takes (site_plan), by path, and
        # whether templates were too.
        self.edited: set[str] = set()
        self.templates_edited = False
        # What save() writes of the plan: (plan, whether it is new), or None.
        self.plan: tuple[SitePlan, bool] | None = None

    # --- content/ ------------------------------------------------------------------------

    def _stored_pages(self, scope: str) -> dict[str, PageEntry]:
        """The entries of the cache file, without their pages (:meth:`with_pages`)."""
        entries = {}
        for path, head in self.store.page_heads(scope).items():
            try:
                entries[path] = _entry_of(head)
            except (TypeError, ValueError):
                continue  # not a row of this format: the page is read again
        return entries

    def with_pages(
        self, entries: dict[str, PageEntry], plan: SitePlan | None
    ) -> tuple[dict[str, PageEntry], list[str]]:
        """``entries`` (read_pages') with every page in: those of the cache file's entries
        from ``plan``, the plan this build takes (it holds every page it was made from,
        each the same as the file's entry: a page edited since was read again), else
        unpickled from the cache file; and the paths whose page could not be loaded so
        (their entries forgotten: to be read again)."""
        missing = [path for path, entry in entries.items() if entry.page is None]
        if not missing:
            return entries, []
        known = plan.read if plan is not None else {}
        stored = self.store.page_objects(
            self.context.pages_scope, [path for path in missing if path not in known]
        )
        lost = []
        pages = self.context.pages
        for path in missing:
            page = known.get(path) or stored.get(path)
            if not isinstance(page, Page):
                lost.append(path)
                del entries[path]
                pages.pop(path, None)
                continue
            entry = entries[path]
            entries[path] = pages[path] = PageEntry(entry.stamp, page, *entry[2:])
        return entries, lost

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
            self.same_files = True
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
            # A folder moved or deleted (a known file's path was no folder: nothing inside).
            inside = [] if path in known else [n for n in known if n.startswith(path + os.sep)]
            if inside:
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
        known, changed = self.context.pages, self.changed
        if changed is not None:
            # Told what changed: every other page is as the last build left it, its body's
            # key known (save keeps every known page's; a body the cache file lost since is
            # rendered where it is needed, builder._rendered). Passes in C: at 20000 pages,
            # this loop in Python was a third of a rebuild until its files were published.
            entries: list[PageEntry | None] = list(map(known.get, paths))
            for index in compress(count(), map(changed.__contains__, paths)):
                entries[index] = None
            return list(compress(paths, map(operator.not_, entries))), entries
        bodies, prefix = self.known_bodies(), markdown_prefix(self.code["bodies"])
        entries = []
        unread = []
        unrendered = []
        for path in paths:
            entry = known.get(path)
            if entry is not None and (entry.stamp is None or entry.stamp != self.stamp(path)):
                entry = None
            if entry is not None and prefix + entry.body_key not in bodies:
                unrendered.append(len(entries))
            entries.append(entry)
            if entry is None:
                unread.append(path)
        # A page to publish whose rendered body is no longer cached is read again too (a
        # page not published is not rendered: its page tells).
        if unrendered:
            lacking = [paths[index] for index in unrendered if entries[index].page is None]
            pages = self.store.page_objects(self.context.pages_scope, lacking)
            for index in unrendered:
                page = entries[index].page or pages.get(paths[index])
                if page is None or rules.left_out(page) is None:
                    entries[index] = None
            unread = [path for path, entry in zip(paths, entries, strict=True) if entry is None]
        return unread, entries

    def stamp(self, path: str) -> FileStamp:
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

    def read(self, path: str, stamp_before: FileStamp, entry: PageEntry) -> PageEntry:
        """Remember a page just read (with the stamp its file had before reading)."""
        entry = entry._replace(stamp=trusted_stamp(stamp_before, time.time_ns() - SETTLED_NS))
        self.context.pages[path] = entry
        self.fresh_pages[path] = entry
        return entry

    def forget_missing(self, paths: Iterable[str]) -> None:
        """Forget the pages whose files are gone (none when the preview named changes that
        added or removed no file: the last build forgot those of the same files)."""
        if self.same_files:
            return
        for path in self.context.pages.keys() - set(paths):
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

    def add_links(self, output: str, links: Links, links_key: str) -> None:
        """Keep the links of a document made in this build (in the cache file), unless
        its row there holds these already: the last build's document had the same links
        and URL (``links_key``, :func:`.keys.page_links_key`). A template edit that changes
        every post's text and none of its links then rewrites none of them."""
        known = self.record().outputs.get(output)
        if known is not None and known.links_key == links_key:
            return
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
        self,
        key: str,
        now: dt.datetime,
        sources: tuple[tuple[str, ...], ...],
        renderer: Renderer,
    ) -> SitePlan | None:
        """The last good build's plan (:mod:`.siteplan`), when this build may take it as it
        is: what changed since are page files and templates only (the preview's changed
        paths; the CLI's stamps against the plan's), ``content/`` holds the same files
        (``sources``), no edited page changed its :func:`.keys.shape_key`, ``renderer``'s
        templates give what the plan read of them (:meth:`.siteplan.SitePlan.same_templates`),
        no page came of age, and nothing else of ``key`` changed. :attr:`edited` is then
        what the pages changed since, :attr:`templates_edited` whether templates did."""
        self.edited = set(self.fresh_pages)
        self.templates_edited = False
        if self.changed is not None:
            plan = self._plan_in_memory()
        elif self.stamps and not self.clean:
            plan = self._plan_kept(key, now, set(sources[0]))
        else:
            return None
        if plan is None or (plan.key, plan.out, plan.sources) != (key, self.out, sources):
            return None
        if not plan.holds_at(now) or not plan.same_shapes(self.context.pages, self.edited):
            return None
        if self.templates_edited and not plan.same_templates(renderer, self.template_files()):
            return None
        return plan

    def template_files(self) -> list[str]:
        """The files of ``templates/`` by name (:func:`.content.walk_files`), as the
        build's first walk found them, else walked now."""
        folder = self.config.templates_dir
        walked = self.files.get(str(folder))
        found = walk_files(folder) if walked is None else walked
        return [os.path.relpath(path, folder) for path in found]

    def _plan_in_memory(self) -> SitePlan | None:
        """The preview's: the last build's plan, when the paths it was told of are files of
        ``content/`` or of ``templates/`` (else: static/, the config file, a folder)."""
        root = str(self.config.content_dir) + os.sep
        templates = str(self.config.templates_dir) + os.sep
        files = self.context.content_files or set()
        for path in self.changed or ():
            if path.startswith(templates) and not os.path.isdir(path):
                self.templates_edited = True  # (one added or deleted: another listing)
                continue
            if not path.startswith(root) or os.path.isdir(path):
                return None
            if path in files and path not in self.fresh_pages:
                return None  # a file beside the pages (published as it is)
            # else a page read again (its shape is compared), or no file of the site: an
            # editor's swap file, a file written and removed again
        return self.context.plan

    def _plan_kept(self, key: str, now: dt.datetime, pages: set[str]) -> SitePlan | None:
        """The CLI's: the plan in the cache file, when the source files whose stamps differ
        from those its build began with are all pages or templates, and the published
        files besides page documents and feeds are still the ones it staged (a user may
        edit them)."""
        head = self.store.plan_head(self.out)
        if not isinstance(head, KeptPlan) or head.key != key or not head.holds_at(now):
            return None
        edited = edited_files(head.stamps, self.stamps)
        if edited is None:
            return None
        inside = str(self.config.templates_dir) + os.sep
        templates = {path for path in edited if path.startswith(inside)}
        if not edited - templates <= pages:
            return None
        self.edited |= edited - templates
        self.templates_edited = bool(templates)
        plan = plan_from(self.store.plan(self.out))
        if plan is None:
            return None
        for output, stamp in plan.file_stamps.items():
            if file_stamp(os.path.join(self.out, output)) != stamp:
                return None
        return plan

    def keep_plan(self, plan: SitePlan, new: bool) -> None:
        """Keep the plan of a build that worked, for the next (``new``: made by it). The
        CLI's goes to the cache file with the record of the build (save)."""
        self.context.plan = plan
        self.plan = plan, new

    # --- media -------------------------------------------------------------------------------

    def planned_assets(self, plan: PlanAssets) -> PlanAssets:
        """``plan`` (:func:`.assets.plan_assets`: it reads and hashes every file of static/
        and the bundles, and reads each image's header) with its result kept, by the size
        and mtime of those files (trusted as for pages), the config and the media code."""

        def cached(config: SiteConfig, sources: Mapping[str, Path], keep: Iterable[str]):
            keep = sorted(set(keep))
            stamps = [(out, str(path), self.stamp(str(path))) for out, path in sources.items()]
            settled = time.time_ns() - SETTLED_NS
            trusted = all(trusted_stamp(stamp, settled) is not None for _, _, stamp in stamps)
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
            if stored is record:
                files = self.store.meta(_published(self.out))
                record.files = files if isinstance(files, frozenset) else None
            records[self.out] = record
        return records[self.out]

    def identities(
        self,
        pages: Sequence[Page],
        entries: Mapping[str, PageEntry],
        renderer: Renderer,
        media: Mapping[str, str] | None = None,
        by_source: Mapping[str, Page] | None = None,
    ) -> Identities:
        """The value of every identity in this build (:class:`.keys.Identities`); ``media``:
        the media step's (:meth:`.media.Media.identities`); ``by_source``: ``pages`` by
        source, when the caller has it."""
        return Identities(
            self.config, self.code, self.endpoint, pages, entries, renderer, media, by_source
        )

    def stale_documents(
        self, plan: SitePlan, values: Identities, affected: Collection[str] | None = None
    ) -> list[int]:
        """The indexes of the documented pages of ``plan`` whose documents must be made again.

        A document is made again when it is new, needs something else, one of its needs
        changed value, or (the CLI) its file is not the one the last build wrote.
        ``affected``: with the last build's plan, the only identities that can differ
        (:meth:`.siteplan.SitePlan.affected`). That build's documents are then this one's,
        needing what they needed (its record was made from the same plan), so when the
        preview named the changes, the documents to make are those needing an identity
        that changed, found from the plan's index rather than by looking at every page.
        """
        pages, needs = plan.documented, plan.needs
        record = self.record()
        known = record.values
        names = known if affected is None else [name for name in affected if name in known]
        changed = {name for name in names if values.get(name) != known[name]}
        check_files = self.changed is None
        if affected is not None and not check_files:
            return plan.needing(changed)
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
        affected: Collection[str] | None = None,
    ) -> None:
        """The record of this build: its documents and the values of what they needed, and
        its feeds' keys (``feeds``, by output) with their published files' stamps.
        ``affected``: with the last build's plan (the same documents, needs and files), the
        only identities whose values can differ from its record's."""
        last = self.record()
        if affected is None:
            needed = {name for output in outputs.values() for name in output.needs}
            known = {name: values.get(name) for name in needed}
            files = frozenset(files)
        else:
            known = dict(last.values)
            known.update((name, values.get(name)) for name in affected if name in known)
            files = last.files
        record = Record(known, outputs, files)
        record.links_key, record.templates = links_key, templates
        for output, key in feeds.items():
            stamp = file_stamp(os.path.join(self.out, output))
            if stamp is not None:
                record.feeds[output] = (key, *stamp)
        self.last_record, self.context.records[self.out] = last, record

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

    def pages_to_judge(
        self, links_key: str, templates: str, documents: Mapping[str, Output], rendered: set[str]
    ) -> set[str] | None:
        """The outputs whose links must be judged again: all (None) when what links are
        judged against changed; else the documents made in this build (``rendered``) but
        those whose links are the last build's and had no warnings (they have none again: a
        template edit that changes every post's text and none of its links judges no post),
        and, when a template changed, those with warnings (which may name a line of one; a
        page without warnings has none to place; a page's own line may have moved too)."""
        record = self.record()
        if links_key != record.links_key:
            return None
        known = record.outputs
        judged = {
            output
            for output in rendered
            if output not in known
            or known[output].warnings
            or not known[output].links_key
            or known[output].links_key != documents[output].links_key
        }
        if templates == record.templates:
            return judged
        return judged | {output for output, output_known in known.items() if output_known.warnings}

    def stored_ids(self) -> dict[str, frozenset[str]]:
        """The ids of every page document the last build made, from the cache file."""
        return {
            output: ids
            for output, ids in self.store.all_ids(self.out).items()
            if isinstance(ids, frozenset)
        }

    def ids_of(self, output: str) -> frozenset[str]:
        """The ids of a page document the last build made, from the cache file."""
        ids = self.store.ids(self.out, output)
        return frozenset(ids) if isinstance(ids, frozenset) else frozenset()

    def links_of_many(self, outputs: Sequence[str]) -> dict[str, Links]:
        """The links of some page documents the last build made, by output (one query)."""
        stored = self.store.links_of_many(self.out, outputs)
        return {
            output: tuple(tuple(link) for link in stored.get(output) or ())  # (marshal: lists)
            for output in outputs
        }

    # --- the end ---------------------------------------------------------------------------

    def save(
        self,
        rendered: set[str],
        gone_outputs: Iterable[str],
        touched: Collection[str] | None = None,
    ) -> None:
        """Write what this build learnt to the cache file: the rows that changed.
        ``touched``: the only documents that may differ from the last build's (None: any)."""
        scope = self.context.pages_scope
        record = self.context.records[self.out]
        before = self.last_record.outputs
        outputs = record.outputs if touched is None else touched
        changed = {
            output: _output_row(record.outputs[output])
            for output in outputs
            if output in rendered or before.get(output) != record.outputs[output]
        }
        current, gone = None, set()
        if self.bodies_changed:  # the cache keeps the bodies of the pages it knows
            prefix = markdown_prefix(self.code["bodies"])
            current = {prefix + entry.body_key for entry in self.context.pages.values()}
            # The context knows every body in the file (it read their keys, or a save
            # pruned the file to them), but for a clean build's: it prunes to the current.
            gone = self.context.bodies - current
            self.context.bodies = current
        # Every published path: a row of its own, written when it changed (an edit of a
        # page's text publishes the same files, and the record is then a few values).
        files = record.files
        published = {} if files == self.last_record.files else {_published(self.out): files}
        plan = self._plan_row()
        self.store.write(
            meta=published,
            pages={path: _page_row(scope, entry) for path, entry in self.fresh_pages.items()},
            forget_pages=self.gone_pages,
            bodies=self.fresh_bodies,
            keep_bodies=current if self.clean else None,
            forget_bodies=() if self.clean else gone,
            record=(self.out, replace(record, outputs={}, files=None)),  # in rows of their own
            outputs=(self.out, changed, gone_outputs),
            plan=plan,
            # A plan goes with the record of the build that made or took it, or not at all.
            forget_plan=self.out if plan is None else None,
        )

    def _plan_row(self) -> tuple[str, KeptPlan, bytes | None] | None:
        """The row of the plan for the cache file (:meth:`.store.Store.write`): the CLI's
        (a build that took the stamps of the source files); its plan only when new."""
        if self.plan is None or not self.stamps:
            return None
        plan, new = self.plan
        stamps = {
            path: trusted_stamp(stamp, self.settled_before) for path, stamp in self.stamps.items()
        }
        head = KeptPlan(plan.key, plan.made, plan.valid_until, stamps)
        return self.out, head, plan_bytes(plan) if new else None


def code_keys(context: BuildContext) -> dict[str, str]:
    """The code each step's results are keyed by (:meth:`.keys.Codebase.fingerprint`)."""
    code = context.code()
    return {
        "pages": code.fingerprint("pages"),
        "bodies": code.fingerprint("bodies", markdown_extension_modules(EXTENSIONS)),
        "documents": code.fingerprint("documents"),
        "templates": code.module_fingerprint(COMPILER),  # compiled templates (:mod:`.compiled`)
        "links": code.fingerprint("links"),
        "media": code.fingerprint("media"),
    }


def _published(out: str) -> str:
    """The name of the cache file's row listing what the last build into ``out`` published."""
    return f"published files {out}"


def generated_entries(pages: Iterable[Page]) -> dict[str, PageEntry]:
    """An entry for each generated page (a tag's, a blog's second page), by its path: no
    file, no body; its identity ``page:<source>`` is all it is (its listing included)."""
    entries = {}
    for page in pages:
        if page.generated:
            front = front_key(page)
            entries[page.path] = PageEntry(None, page, "", False, front, page_key(front, ""))
    return entries


def _page_row(scope: str, entry: PageEntry) -> tuple[str, tuple, Page]:
    """An entry for the cache file (:meth:`.store.Store.write`): its scope, its plain
    values (all but the page, :func:`_entry_of` reads them back) and its page."""
    return scope, (entry.stamp, *entry[2:]), entry.page


def _entry_of(head: tuple) -> PageEntry:
    """An entry from its plain values in the cache file (:func:`_page_row`), no page yet."""
    stamp, body_key, shortcodes, front, key, warnings, uses = head
    return PageEntry(stamp, None, body_key, shortcodes, front, key, warnings, uses)  # type: ignore[arg-type]


def _output_row(output: Output) -> tuple[tuple, frozenset[str] | None]:
    """A document's row for the cache file: all but its ids, and its ids (None: they are
    the stored ones, not read)."""
    needs, size, mtime_ns, ids, ids_key, warnings, links_key = output
    return (needs, size, mtime_ns, ids_key, warnings, links_key), ids


def _outputs(stored: dict[str, tuple]) -> dict[str, Output]:
    """The stored rows as :class:`Output` records (ids left in the cache file), sharing
    equal ``needs`` tuples."""
    shapes: dict[tuple, tuple] = {}
    outputs = {}
    for output, fields in stored.items():
        try:
            needs, size, mtime_ns, ids_key, warnings, links_key = fields
            needs = shapes.setdefault(needs, needs)
            outputs[output] = Output(needs, size, mtime_ns, None, ids_key, warnings, links_key)
        except (TypeError, ValueError):
            continue  # not a row of this format: that output is made again
    return outputs


def trusted_stamp(stamp: FileStamp, settled_before: int) -> FileStamp:
    """``stamp``, or None when its file changed at or after ``settled_before`` (ns): the same
    size and mtime may yet hide another edit (:data:`SETTLED_NS`)."""
    return stamp if stamp is not None and stamp[1] < settled_before else None


def file_stamp(path: str) -> FileStamp:
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
    "trusted_stamp",
]
