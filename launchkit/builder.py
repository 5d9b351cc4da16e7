"""The build, as a short pipeline of named steps (the shape of MkDocs' ``commands/build.py``).

    load pages -> render Markdown -> expand shortcodes -> render templates -> extras -> publish
    load_content  render_markdown   fill_in_content     Renderer.render_pages  collect_files

Each step is a function of what the previous one returned; the same input gives
byte-identical output (sorted iteration everywhere, no timestamps).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .config import SiteConfig
from .content import Asset, Page, display_path, load_content, walk_files
from .extras import extra_files
from .markup import MarkdownRenderer, RenderedMarkdown, expand_shortcodes
from .publish import SiteFiles, check_output_dir, publish
from .render import Renderer


@dataclass(frozen=True)
class BuildReport:
    """What a build produced: HTML pages, other files (static, assets, sitemap…), duration."""

    pages: int
    files: int
    seconds: float


def build_site(
    config: SiteConfig,
    out_dir: Path,
    *,
    drafts: bool = False,
    checkout_endpoint: str | None = None,
) -> BuildReport:
    """Build the site of ``config`` into ``out_dir``, replacing it only if everything worked.

    ``checkout_endpoint`` overrides ``[checkout] endpoint`` in the forms (the preview server
    mounts the checkout locally).
    """
    started = time.perf_counter()
    out = check_output_dir(out_dir, config)
    content = load_content(config, drafts=drafts)
    renderer = Renderer(config, checkout_endpoint=checkout_endpoint)
    rendered = render_markdown(content.pages)
    pages = fill_in_content(content.pages, rendered, renderer)
    documents = renderer.render_pages(pages)
    files = collect_files(config, pages, documents, content.assets)
    publish(files, out)
    return BuildReport(len(documents), len(files) - len(documents), time.perf_counter() - started)


def render_markdown(pages: Sequence[Page]) -> list[RenderedMarkdown]:
    """Each page's body as HTML with shortcode placeholders: depends on the text alone."""
    markdown = MarkdownRenderer()
    return [
        markdown.render(page.body, source=display_path(page.path), first_line=page.body_line)
        for page in pages
    ]


def fill_in_content(
    pages: Sequence[Page], rendered: Sequence[RenderedMarkdown], renderer: Renderer
) -> list[Page]:
    """Each page with its final HTML: shortcodes expanded into buy forms, and its TOC."""
    return [
        replace(
            page,
            content=expand_shortcodes(
                body,
                source=display_path(page.path),
                products=renderer.config.products,
                buy_form=renderer.buy_form,
            ),
            toc=body.toc,
        )
        for page, body in zip(pages, rendered, strict=True)
    ]


def collect_files(
    config: SiteConfig,
    pages: Sequence[Page],
    documents: dict[str, bytes],
    assets: Sequence[Asset],
) -> SiteFiles:
    """Every file of the site: pages, sitemap/robots/feed, files beside pages, static/."""
    files = SiteFiles()
    sources = {page.output: page.source for page in pages}
    for output, html in documents.items():
        files.add(output, html, sources[output])
    for output, data in extra_files(config, pages).items():
        files.add(output, data, f"the generated {output}")
    for asset in assets:
        files.add(asset.output, asset.path, display_path(asset.path))
    if config.static_dir.is_dir():
        for path in walk_files(config.static_dir):
            files.add(path.relative_to(config.static_dir).as_posix(), path, display_path(path))
    return files


__all__ = ["BuildReport", "build_site", "collect_files", "fill_in_content", "render_markdown"]
