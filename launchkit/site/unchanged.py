"""Nothing changed: a build whose inputs and published files are as the last build left them.

A build's output folder is a function of its inputs: the files of ``content/``,
``templates/`` and ``static/``, the config, launchkit's code and the libraries' versions
(:class:`.keys.Codebase`), the build's options, the output, working and image-cache
folders, the system fonts a social card may be drawn in, and the clock up to the first
future page's date. After a build that worked, the cache file keeps a :class:`Stamp` of
them (each file by size and mtime, the rest as one key), with the size and mtime of every
file the build published and what its report said.

A build in a context made for one build (the CLI's) first takes the same stamp of what is
there now: it walks the three folders once (:func:`source_files`) and stats each file once,
and a build that goes on takes its lists of files and their stamps from there. When it
equals the last one, every published file is still the one that build wrote, and a build
would write the same bytes and say the same: its report is the answer, and no page entry is
unpickled, no template loaded, no list or identity made. Anything else, even one published
file touched, is a build through the cache layer (:mod:`.cache`), which redoes only what
changed.

Files changed within :data:`.cache.SETTLED_NS` of the stamp are not trusted by size and
mtime (the same edit may follow within the clock's tick): no stamp is kept then.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import SiteConfig
from .cache import SETTLED_NS, file_stamp, trusted_stamp
from .content import walk_files
from .siteplan import FileStamp
from .social import SYSTEM_FONTS

if TYPE_CHECKING:
    from .builder import BuildReport
    from .store import Store

# The cache file's entries (table meta) of the stamp of each output folder: what it was made
# from, and apart (read only when all that is equal), the stamps of the published files.
_ENTRY = "unchanged:"
_PUBLISHED = "unchanged, published:"

# Each file by path: its size and mtime (ns), as :func:`.cache.file_stamp` gives them.
Stamps = dict[str, FileStamp]


@dataclass(frozen=True)
class Stamp:
    """What a build that worked was made from, and its report (see the module)."""

    key: str  # code, config, options, folders (.keys.build_key)
    sources: Stamps  # every file of content/, templates/ and static/, and the system fonts
    valid_until: dt.datetime | None  # a future page's date: then it is published
    report: BuildReport  # with nothing rendered


def source_files(config: SiteConfig) -> dict[str, list[str]]:
    """The files of ``content/``, ``templates/`` and ``static/``, by folder, in
    :func:`.content.walk_files`' order (none for a missing folder)."""
    folders = (config.content_dir, config.templates_dir, config.static_dir)
    return {str(folder): list(walk_files(folder)) for folder in folders}


def source_stamps(files: Mapping[str, Iterable[str]]) -> Stamps:
    """The stamps of the source files ``files`` (by folder) and of the system fonts' folder."""
    stamps: Stamps = {str(SYSTEM_FONTS): file_stamp(str(SYSTEM_FONTS))}
    for paths in files.values():
        for path in paths:
            stamps[path] = file_stamp(path)
    return stamps


def settled(stamps: Stamps, since: int) -> bool:
    """Whether no file of ``stamps`` changed at or after ``since`` (ns), too recently to be
    trusted by its stamp (:func:`.cache.trusted_stamp`); a gone file (None) has no stamp to
    distrust."""
    return all(stamp is None or trusted_stamp(stamp, since) for stamp in stamps.values())


def published_stamps(out: Path, outputs: Iterable[str]) -> Stamps:
    """The stamps of the published files ``outputs`` (paths relative to ``out``)."""
    folder = str(out)
    return {output: file_stamp(os.path.join(folder, output)) for output in outputs}


class LastBuild:
    """The stamp of the last build into ``out`` in the cache file: read, compared, replaced."""

    def __init__(self, config: SiteConfig, store: Store, out: Path, key: str) -> None:
        self.store = store  # the cache file, open for the build
        self.out = out
        self.key = key
        # Taken before the build reads any of them (a file changed meanwhile then differs);
        # the cache layer's scan takes the same walk (one walk and one stat per file a build).
        self.files = source_files(config)
        self.sources = source_stamps(self.files)
        # A file changed since ``settled_before`` (ns) may change again unseen: the moment
        # is taken after the stamps, as late as the walk that read them.
        self.settled_before = time.time_ns() - SETTLED_NS
        # Whether they may stand for the files' contents: no file changed moments ago.
        self.trusted = settled(self.sources, self.settled_before)

    def report_if_unchanged(self, now: dt.datetime) -> BuildReport | None:
        """The last build's report when nothing it was made from or wrote has changed."""
        if not self.trusted:
            return None
        last = self.store.meta(_ENTRY + str(self.out))
        if not isinstance(last, Stamp) or (last.key, last.sources) != (self.key, self.sources):
            return None
        if last.valid_until is not None and now >= last.valid_until:
            return None
        published = self.store.meta(_PUBLISHED + str(self.out))
        if not isinstance(published, dict) or published_stamps(self.out, published) != published:
            return None
        return last.report

    def keep(self, report: BuildReport, published: Stamps, valid_until: dt.datetime | None) -> None:
        """Remember a build that worked: its report (as a rebuild would give it, nothing
        rendered) and the stamps of the files it published (every one, by output path).
        Only a :attr:`trusted` stamp is kept."""
        if not self.trusted:
            return
        unrendered = dataclasses.replace(
            report,
            rendered=0,
            from_cache=report.pages,
            markdown_rendered=0,
            images_processed=0,
            planned=False,
        )
        stamp = Stamp(self.key, self.sources, valid_until, unrendered)
        out = str(self.out)
        self.store.write(meta={_ENTRY + out: stamp, _PUBLISHED + out: published})


__all__ = [
    "LastBuild",
    "Stamp",
    "Stamps",
    "published_stamps",
    "settled",
    "source_files",
    "source_stamps",
]
