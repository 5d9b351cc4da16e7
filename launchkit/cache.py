"""The build cache in ``.cache/build/`` beside ``site.toml``: what the next build may reuse.

Three kinds of entry, each one file (one read of a few MiB beats thousands of small files at
2000 pages):

* ``pages.pickle``: every page as read from ``content/`` (front matter parsed, body left
  out), with its file's size and mtime (:func:`launchkit.content.load_content`), for the
  launchkit code and config that read it.
* ``markdown.marshal``: each page body's HTML, TOC and shortcodes, keyed by a hash of the
  body, its first line and the Markdown settings (:data:`launchkit.markup.SETTINGS`).
* ``outputs-<hash of the output folder>.marshal``: for every page of the last build into
  that folder, the key of everything its document depended on, the file's size and mtime
  (to notice a hand-edited output) and its links and ids (for the link checker).

A cache that is missing, from another launchkit version or unreadable is an empty one: the
build renders everything and never fails because of it. Loaded files are also kept in memory,
so that the preview server's repeated builds in one process do not read them again.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE_FOLDER = Path(".cache") / "build"
# Bump when the layout of an entry changes: older files are then ignored, not misread.
FORMAT = 1

# A rendered body: (html, toc, shortcodes as (name, product, label, line) tuples).
MarkdownEntry = tuple[str, str, tuple[tuple[str, str, str | None, int], ...]]
# Links of a document as (url, text) and the ids its fragments may point to.
Links = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class OutputRecord:
    """One page document of the last build: what it depended on, its file, its links."""

    key: str
    size: int
    mtime_ns: int
    links: Links
    ids: frozenset[str]

    def matches(self, path: Path) -> bool:
        """Whether ``path`` is still the file this record describes (nobody edited it)."""
        try:
            stat = path.stat()
        except OSError:
            return False
        return stat.st_size == self.size and stat.st_mtime_ns == self.mtime_ns


def digest(*parts: str | bytes) -> str:
    """A short, stable hash of ``parts`` (each length-prefixed, so boundaries count)."""
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "little"))
        hasher.update(data)
    return hasher.hexdigest()


class BuildCache:
    """The cache folder of one site; ``clean`` starts from nothing (and rewrites it)."""

    def __init__(self, folder: Path, *, clean: bool = False) -> None:
        self.folder = folder
        self.clean = clean

    def pages(self, scope: str) -> dict[str, Any]:
        """The pages the last build read for the same ``scope`` (code and config), by path."""
        if self.clean:
            return {}
        stored = _load(self.folder / "pages.pickle", pickle.loads)
        return stored.get("pages", {}) if stored.get("scope") == scope else {}

    def save_pages(self, scope: str, pages: dict[str, Any]) -> None:
        _save(self.folder / "pages.pickle", {"scope": scope, "pages": pages}, pickle.dumps)

    def markdown(self) -> dict[str, MarkdownEntry]:
        """Rendered bodies by key (empty when clean)."""
        return {} if self.clean else _load(self.folder / "markdown.marshal")

    def save_markdown(self, entries: dict[str, MarkdownEntry]) -> None:
        _save(self.folder / "markdown.marshal", entries)

    def outputs(self, out_dir: Path) -> dict[str, OutputRecord]:
        """The page records of the last build into ``out_dir``, by output path."""
        if self.clean:
            return {}
        raw = _load(self._outputs_file(out_dir))
        try:
            return {
                output: OutputRecord(key, size, mtime, links, ids)
                for output, (key, size, mtime, links, ids) in raw.items()
            }
        except (TypeError, ValueError):
            return {}

    def save_outputs(self, out_dir: Path, records: dict[str, OutputRecord]) -> None:
        raw = {output: (r.key, r.size, r.mtime_ns, r.links, r.ids) for output, r in records.items()}
        _save(self._outputs_file(out_dir), raw)

    def _outputs_file(self, out_dir: Path) -> Path:
        return self.folder / f"outputs-{digest(str(out_dir))[:16]}.marshal"


# Loaded (or saved) cache files by path, with the (mtime_ns, size) they had then.
_MEMORY: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _load(path: Path, loads: Callable[[bytes], Any] = marshal.loads) -> dict[str, Any]:
    """A cache file's entries; {} when missing, stale or unreadable. Never mutate the result."""
    signature = _signature(path)
    if signature is None:
        return {}
    remembered = _MEMORY.get(path)
    if remembered is not None and remembered[0] == signature:
        return remembered[1]
    try:
        # Our own file in the project folder, written by _save: as trusted as the sources.
        version, entries = loads(path.read_bytes())
    except Exception:  # any unreadable cache is an empty one: pickle raises anything
        return {}
    if version != FORMAT or not isinstance(entries, dict):
        return {}
    _MEMORY[path] = (signature, entries)
    return entries


def _save(
    path: Path, entries: dict[str, Any], dumps: Callable[[Any], bytes] = marshal.dumps
) -> None:
    """Write a cache file atomically, unless it already holds exactly ``entries``.

    A failure to write (read-only checkout, full disk) only costs the next build time.
    """
    remembered = _MEMORY.get(path)
    if remembered is not None and remembered[1] == entries and remembered[0] == _signature(path):
        return
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "wb") as file:
            file.write(dumps((FORMAT, entries)))
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        return
    signature = _signature(path)
    if signature is not None:
        _MEMORY[path] = (signature, entries)


__all__ = ["CACHE_FOLDER", "BuildCache", "Links", "MarkdownEntry", "OutputRecord", "digest"]
