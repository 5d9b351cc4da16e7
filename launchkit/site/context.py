"""The build context: everything a build leaves in memory for the next one, in one object.

    context = BuildContext(one_build=True)     # the CLI: one per run
    context = BuildContext(keep_workers=True)  # the preview: one for its life
    build_site(config, out, context=context)   # again and again, one build at a time
    build_site(config, out, context=context, changed={path, ...})   # the preview's rebuilds
    context.close()                            # the worker processes kept, if any

Nothing of a build outlives it anywhere else: launchkit has no module-level state. A
``clean`` build starts this context afresh (:meth:`BuildContext.forget`) and reads no cache
file, so nothing of an earlier build can reach its output. What is in here is exactly what
:mod:`launchkit.site.cache` decides to reuse, each piece checked by its keys, never by
object identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .keys import PACKAGE_DIR, Codebase
from .workers import Workers

if TYPE_CHECKING:
    from .assets import Assets
    from .cache import PageEntry, Record
    from .content import Sources
    from .markup import MarkdownRenderer
    from .render import Renderer
    from .siteplan import SitePlan
    from .template_usage import TemplateUsage


@dataclass
class BuildContext:
    """What a caller keeps between builds. ``code_root``: whose source keys the cache
    (default: the running package; tests point it at a copy to change it)."""

    code_root: Path = PACKAGE_DIR
    # Made for one build (the CLI's): a build that finds its inputs and published files as
    # the last build into its folder left them answers with that build's report and fills
    # nothing in here (:mod:`.unchanged`). A lasting context (the preview's) is filled by
    # every build, for the next one.
    one_build: bool = False
    codebase: Codebase | None = None
    # The last build's reading of content/: every Markdown file's entry by path, the files
    # of content/ it saw, and the key of what read them (code and [site]).
    pages: dict[str, PageEntry] = field(default_factory=dict)
    content_files: set[str] | None = None
    sources: Sources | None = None  # content_files as the pipeline takes them
    pages_scope: str = ""
    # Rendered bodies known to be in the cache file, by key.
    bodies: set[str] = field(default_factory=set)
    # What the last build into each output folder left, by folder.
    records: dict[str, Record] = field(default_factory=dict)
    # Made on first use, kept: building them costs more than a small rebuild.
    markdown: MarkdownRenderer | None = None
    renderer: tuple[str, Renderer] | None = None
    template_usage: TemplateUsage | None = None
    # The published names of static/ and the bundles, by the key of what they were made from.
    assets: tuple[str, Assets] | None = None
    # The last good build's shape (pages, lists, media, files), for body edits the preview
    # names (:mod:`.siteplan`; the CLI's is in the cache file).
    plan: SitePlan | None = None
    # Whether the worker processes of a build serve the next builds too, until close() (the
    # preview's: with forkserver or spawn each start is a fresh interpreter importing
    # launchkit and its libraries; at 2000 pages a template edit's rebuild took 0.97 s with
    # kept workers, 1.28 s starting them). Else each build starts and ends its own.
    keep_workers: bool = False
    workers: Workers | None = field(default=None, repr=False)

    def code(self) -> Codebase:
        """launchkit's source, read once for this context (it cannot change under it)."""
        if self.codebase is None:
            self.codebase = Codebase(self.code_root)
        return self.codebase

    def warm_up(self) -> None:
        """Make now, while nobody edits, what the next one-page rebuild would otherwise make
        first (the preview calls it after each build, in its rebuild thread):

        * the Markdown renderer (importing Python-Markdown, its extensions and PyYAML and
          setting them up took half a second of a preview's first edit), used once on the
          page saved last: the regular expressions the extensions compile on first use and
          the Pygments lexers its code blocks name, loaded by module, are then ready for
          the page most likely to be saved next;
        * the compiled templates (a build over worker processes made them only there);
        * the plan's index of which documents need what (:meth:`.siteplan.SitePlan.index`),
          which a body edit reads and a new plan lacks.
        """
        if self.markdown is None:
            from .frontmatter import warm_up
            from .markup import MarkdownRenderer

            warm_up()
            self.markdown = MarkdownRenderer()
            self._rehearse(self.markdown)
        if self.renderer is not None:
            self.renderer[1].load_templates()
        if self.plan is not None:
            self.plan.index()

    def _rehearse(self, markdown: MarkdownRenderer) -> None:
        """Render the body of the page saved last (by the stamps read), and forget it."""
        from ..errors import SiteError
        from .content import read_body

        stamped = [(entry.stamp[1], path) for path, entry in self.pages.items() if entry.stamp]
        if not stamped:
            return
        _, path = max(stamped)
        try:
            body = read_body(Path(path))
            source = self.pages[path].page.source
            markdown.render(body.text, source=source, first_line=body.first_line)
        except (OSError, SiteError):  # gone or broken since: the next build says so
            pass

    def kept_workers(self, size: int) -> Workers | None:
        """The worker processes kept for builds over at most ``size`` (None unless
        ``keep_workers``). They hold nothing of a build: each step sends its own payload, and
        a worker drops what it made of it when the step ends."""
        if not self.keep_workers:
            return None
        if self.workers is None or self.workers.size != size:
            self.close()
            self.workers = Workers(size)
        return self.workers

    def close(self) -> None:
        """End the worker processes kept (its owner calls it when done with the context)."""
        if self.workers is not None:
            self.workers.close()
            self.workers = None

    def forget(self) -> None:
        """Drop everything remembered (the code's fingerprint stays: it is what runs)."""
        self.pages = {}
        self.content_files = None
        self.sources = None
        self.pages_scope = ""
        self.bodies = set()
        self.records = {}
        self.markdown = None
        self.renderer = None
        self.template_usage = None
        self.assets = None
        self.plan = None


__all__ = ["BuildContext"]
