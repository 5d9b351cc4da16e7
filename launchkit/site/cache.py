"""The build cache in ``.cache/build/`` beside ``site.toml``: what the next build may reuse.

Three kinds of entry, each one file (one read of a few MiB beats thousands of small files at
2000 pages):

* ``sources.pickle``: every page as read from ``content/`` (front matter parsed, body left
  out) with its file's size and mtime (:func:`launchkit.site.content.load_content`), and what
  each template depends on (:meth:`launchkit.site.render.Renderer.dependencies`), for the
  launchkit code and config that read them.
* ``markdown-<0…f>.marshal``: each page body's HTML, TOC and shortcodes, keyed by a hash of
  the body, its first line and the Markdown settings (:data:`launchkit.site.markup.SETTINGS`),
  in 16 shards by the key's first digit: a one-page edit rewrites 1/16 of 11 MB.
* ``outputs-<hash of the output folder>.marshal``: what the last build into that folder left
  (:class:`LastBuild`): for every page, the key of everything its document depended on, the
  file's size and mtime (to notice a hand-edited output), its links and ids and the link
  checker's warnings about it; every file it published; what the links were checked against.

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
# The shards of the Markdown cache: the first hex digit of an entry's key.
_SHARDS = "0123456789abcdef"
# Bump when the layout of an entry changes: older files are then ignored, not misread.
FORMAT = 3

# A rendered body: (html, toc, shortcodes as plain tuples, warnings as (line, message));
# launchkit.site.markup.RenderedMarkdown.to_entry makes it.
MarkdownEntry = tuple[str, str, tuple[tuple[Any, ...], ...], tuple[tuple[int, str], ...]]
# Links of a document as (url, text) and the ids its fragments may point to.
Links = tuple[tuple[str, str], ...]
# The link checker's warnings about one page, as (path, line, message).
Warnings = tuple[tuple[str, int | None, str], ...]


@dataclass(frozen=True)
class OutputRecord:
    """One page document of the last build: what it depended on, its file, its links."""

    key: str
    size: int
    mtime_ns: int
    links: Links
    ids: frozenset[str]
    ids_key: str  # a hash of the ids: what other pages' links are checked against
    warnings: Warnings = ()

    def matches(self, path: str | Path) -> bool:
        """Whether ``path`` is still the file this record describes (nobody edited it)."""
        try:
            stat = os.stat(path)
        except OSError:
            return False
        return stat.st_size == self.size and stat.st_mtime_ns == self.mtime_ns


@dataclass(frozen=True)
class LastBuild:
    """What the last build into one output folder left behind.

    ``records`` describe its page documents by output path; ``files`` is every output path
    it published, pages included (None: unknown, e.g. after ``--clean``); ``targets``
    hashes what its links were checked against.
    """

    records: dict[str, OutputRecord]
    files: frozenset[str] | None = None
    targets: str = ""


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

    def sources(self, scope: str) -> dict[str, Any]:
        """What the last build read of the sources, if it ran with the same ``scope``
        (code and config): ``pages`` and ``templates``."""
        if self.clean:
            return {}
        stored = _load(self.folder / "sources.pickle", pickle.loads) or {}
        return stored.get("sources", {}) if stored.get("scope") == scope else {}

    def save_sources(self, scope: str, sources: dict[str, Any]) -> None:
        _save(self.folder / "sources.pickle", {"scope": scope, "sources": sources}, pickle.dumps)

    def markdown(self) -> dict[str, MarkdownEntry]:
        """Rendered bodies by key (empty when clean)."""
        if self.clean:
            return {}
        entries: dict[str, MarkdownEntry] = {}
        for shard in _SHARDS:
            entries.update(_load(self.folder / f"markdown-{shard}.marshal") or {})
        return entries

    def save_markdown(self, entries: dict[str, MarkdownEntry]) -> None:
        """Keep ``entries``; only the shards holding a changed entry are written."""
        shards: dict[str, dict[str, MarkdownEntry]] = {shard: {} for shard in _SHARDS}
        for key, entry in entries.items():
            shards[key[0]][key] = entry
        for shard, part in shards.items():
            _save(self.folder / f"markdown-{shard}.marshal", part)

    def last_build(self, out_dir: Path) -> LastBuild:
        """What the last build into ``out_dir`` left (nothing known when clean)."""
        if self.clean:
            return LastBuild({})
        return _load(self._outputs_file(out_dir), decode=_last_build) or LastBuild({})

    def save_last_build(self, out_dir: Path, last: LastBuild) -> None:
        records = {
            output: (r.key, r.size, r.mtime_ns, r.links, r.ids, r.ids_key, r.warnings)
            for output, r in last.records.items()
        }
        raw = {"records": records, "files": sorted(last.files or ()), "targets": last.targets}
        _save(self._outputs_file(out_dir), raw, decoded=last)

    def _outputs_file(self, out_dir: Path) -> Path:
        return self.folder / f"outputs-{digest(str(out_dir))[:16]}.marshal"


def _last_build(raw: dict[str, Any]) -> LastBuild:
    """The :class:`LastBuild` an outputs file holds (KeyError, TypeError: not one)."""
    records = {output: OutputRecord(*fields) for output, fields in raw["records"].items()}
    return LastBuild(records, frozenset(raw["files"]), raw["targets"])


# Loaded (or saved) cache files by path: the (mtime_ns, size) they had then, their entries,
# and what those entries were decoded into (the preview's next build need not decode again:
# 2000 OutputRecords cost 30 ms).
_MEMORY: dict[Path, tuple[tuple[int, int], dict[str, Any], Any]] = {}


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _load(
    path: Path,
    loads: Callable[[bytes], Any] = marshal.loads,
    decode: Callable[[dict[str, Any]], Any] | None = None,
) -> Any:
    """A cache file's entries, through ``decode`` if given; None when missing, stale or
    unreadable. Never mutate the result."""
    signature = _signature(path)
    if signature is None:
        return None
    remembered = _MEMORY.get(path)
    if remembered is not None and remembered[0] == signature:
        return remembered[2]
    try:
        # Our own file in the project folder, written by _save: as trusted as the sources.
        version, entries = loads(path.read_bytes())
        if version != FORMAT or not isinstance(entries, dict):
            return None
        decoded = entries if decode is None else decode(entries)
    except Exception:  # any unreadable cache is an empty one: pickle raises anything
        return None
    _MEMORY[path] = (signature, entries, decoded)
    return decoded


def _save(
    path: Path,
    entries: dict[str, Any],
    dumps: Callable[[Any], bytes] = marshal.dumps,
    decoded: Any = None,
) -> None:
    """Write a cache file atomically, unless it already holds exactly ``entries``.

    ``decoded`` is what :func:`_load` should give for them (default: ``entries``). A failure
    to write (read-only checkout, full disk) only costs the next build time.
    """
    decoded = entries if decoded is None else decoded
    remembered = _MEMORY.get(path)
    if remembered is not None and remembered[1] == entries and remembered[0] == _signature(path):
        _MEMORY[path] = (remembered[0], remembered[1], decoded)
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
        _MEMORY[path] = (signature, entries, decoded)


__all__ = [
    "CACHE_FOLDER",
    "BuildCache",
    "LastBuild",
    "Links",
    "MarkdownEntry",
    "OutputRecord",
    "Warnings",
    "digest",
]
