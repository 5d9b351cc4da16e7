"""Page bundles: a folder holding one page (``index.md``) and its images, moved as one.

A ``slug:`` moves a bundle's page (``content/blog/0918-launch/index.md`` with ``slug: launch``
-> ``/blog/launch/``); its files follow it (``cover.png`` -> ``/blog/launch/cover.png``), so that
the page's relative links (``![](cover.png)``) still resolve, as in Hugo.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Sequence
from pathlib import Path

from .content import Asset, Page


def follow_bundles(
    pages: Iterable[Page], assets: Sequence[Asset], content_dir: Path
) -> list[Asset]:
    """``assets`` with the files of each moved bundle published beside its page.

    A bundle is a folder whose only page is its ``index.md`` (a folder with other pages,
    such as ``content/blog/``, is a section: its files stay where they are).
    """
    moved = _moved_bundles(pages, content_dir)
    if not moved:
        return list(assets)
    return [_follow(asset, moved) for asset in assets]


def _moved_bundles(pages: Iterable[Page], content_dir: Path) -> dict[str, str]:
    """Each bundle folder whose page went elsewhere, with the page's folder (both relative)."""
    folders: dict[str, list[Page]] = {}
    sources: list[str] = []
    inside = os.path.join(content_dir, "")
    for page in pages:
        if page.path.startswith(inside):  # as relpath() would say, at a tenth of its cost
            relative = page.path[len(inside) :].replace(os.sep, "/")
        else:
            relative = Path(os.path.relpath(page.path, content_dir)).as_posix()
        sources.append(relative)
        folders.setdefault(posixpath.dirname(relative), []).append(page)
    moved = {}
    for folder, in_folder in folders.items():
        page = in_folder[0]
        target = posixpath.dirname(page.output)
        is_leaf = len(in_folder) == 1 and Path(page.path).stem == "index" and folder
        if is_leaf and target != folder and not _holds_other_pages(folder, sources):
            moved[folder] = target
    return moved


def _holds_other_pages(folder: str, sources: list[str]) -> bool:
    """Whether a page lies in a subfolder of ``folder`` (which makes it a section)."""
    prefix = folder + "/"
    return any(source.startswith(prefix) and "/" in source[len(prefix) :] for source in sources)


def _follow(asset: Asset, moved: dict[str, str]) -> Asset:
    """``asset`` under its bundle's new folder, if its closest bundle folder moved."""
    folder = posixpath.dirname(asset.output)
    while folder:
        if folder in moved:
            return Asset(asset.path, moved[folder] + asset.output[len(folder) :])
        folder = posixpath.dirname(folder)
    return asset


__all__ = ["follow_bundles"]
