"""Publishing into the output folder: only what changed is written, and only if the build worked.

Every file the build changes is first written into one staging folder inside the output
folder (:data:`STAGING`), by the parent or by a worker process. When the whole build
succeeded, :meth:`SiteWriter.commit` renames them into place (each rename is atomic: no
visitor or deploy ever reads half a file) and removes what the last build had and this one
has not. A failed build leaves through :meth:`SiteWriter.rollback`: the staging folder goes,
and the last good site is exactly as it was. Nothing is copied or linked for the files that
did not change, so they keep their inode and mtime, rsync-style deploys upload only what
changed, and a rebuild costs what changed rather than what the site holds.

The output folder itself is checked first, so that no typo in ``--out`` can delete the
sources or an unrelated folder: a build output carries a :data:`MARKER` file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ..config import SiteConfig
from ..errors import SiteError
from .content import display_path

# What a site file is made of: rendered bytes, or the path of a source file to copy as it
# is (a str where a Path per file would cost: a social card per page on every build).
FileData = bytes | str | Path

# In every build output, so that the next build knows it may replace the folder's contents.
MARKER = ".launchkit-build"
_MARKER_TEXT = b"Built by launchkit: the next build replaces this folder's contents.\n"
# The folder in the output folder where files wait for the build to succeed. One folder,
# not each file beside its target: creating a file costs the file system about five times
# as much in a folder of its own (a post's) as in one folder that holds them all (ext4,
# measured: 0.33-0.47 against 0.08-0.24 ms), and a rename across folders no more than one
# within a folder. Inside the output folder, so on its file system: renames stay atomic.
STAGING = ".launchkit-staging"
# The folder of the staging folder where the folders that a build adds to the site are made
# while worker processes render documents; the commit moves each new top folder in at once
# (its name cannot be a staged file's: those are hex digits).
_NEW_FOLDERS = "new-folders"
# Renames done at once when publishing. A rename over an existing file waits on the file
# system, not the CPU (ext4 allocates the new file's blocks first: about 1 ms each), so a
# template edit's thousand pages took a second one after the other, and a tenth in threads.
_RENAMES_AT_ONCE = 8


class SiteFiles:
    """Every file of the site to publish, by output path, refusing two sources for one path."""

    def __init__(self) -> None:
        self._files: dict[str, FileData] = {}
        self._origins: dict[str, str] = {}
        self._claimed: list[str] = []
        self._kept = 0

    def add(self, output: str, data: FileData, origin: str) -> None:
        """Add a file; ``origin`` (a source path, "sitemap") names it in a collision error."""
        self.reserve(output, origin)
        self._files[output] = data

    def keep(self, output: str, origin: str) -> None:
        """Add a file whose published bytes stay as they are (the cache layer found its
        inputs and its file unchanged): claimed and counted, not written."""
        self.reserve(output, origin)
        self._kept += 1

    def reserve(self, output: str, origin: str) -> None:
        """Claim ``output`` for a file written elsewhere (a page document), refusing clashes."""
        key = output.casefold()  # case-insensitive hosts and file systems would clash too
        if key in self._origins:
            raise SiteError(
                f"both {self._origins[key]} and {origin} would be published as {output}",
                origin,
                hint="rename or move one of them",
            )
        self._origins[key] = origin
        self._claimed.append(output)

    def __len__(self) -> int:
        return len(self._files) + self._kept

    def outputs(self) -> list[str]:
        """Every claimed output path: the files added and the ones reserved."""
        return list(self._claimed)

    def items(self) -> list[tuple[str, FileData]]:
        """The files in sorted order (deterministic writes)."""
        return sorted(self._files.items())


def check_output_dir(out_dir: Path, config: SiteConfig) -> Path:
    """The resolved output folder, or a SiteError when publishing there would destroy sources.

    Refused: the file system root, the home folder, the project folder (where the config
    file is), or any folder that is, contains or sits inside content/, templates/ or static/.
    """
    out = out_dir.expanduser().resolve()
    protected = {
        "the file system root": Path(out.anchor),
        "your home folder": Path.home().resolve(),
        "the project folder (where the config file is)": config.root.resolve(),
    }
    for what, path in protected.items():
        if out == path or out in path.parents:
            raise _refused(out_dir, f"it is or contains {what}")
    for source in (config.content_dir, config.templates_dir, config.static_dir):
        source = source.resolve()
        if out == source or out in source.parents or source in out.parents:
            raise _refused(out_dir, f"it would replace or sit inside {display_path(source)}")
    if out.exists() and not out.is_dir():
        raise _refused(out_dir, "it is a file, not a folder")
    if out.is_dir() and next(_entries(out), None) and not (out / MARKER).is_file():
        raise _refused(
            out_dir, f"it is not empty and is not a launchkit build output (no {MARKER} file)"
        )
    return out


def _refused(out_dir: Path, why: str) -> SiteError:
    return SiteError(
        f"refusing to publish into {out_dir}: {why}",
        hint="pick a separate output folder such as public/ (the build replaces its contents)",
    )


class SiteWriter:
    """Stages changed files in the output folder, then commits or rolls back all of them.

    Worker processes stage with their own copy (all into :data:`STAGING`, under names
    made from the outputs, so that a rollback in the parent removes what they wrote with
    the folder), and the parent is told which outputs changed (:meth:`staged`).

    Source files under ``linked_from`` are hard-linked rather than copied: that folder must
    hold files the build wrote once and never changes in place (the image cache: named by
    content, each written through a rename), so a published link can never see them change.
    A link the file system refuses (another device) is a copy.
    """

    def __init__(self, out: Path, *, linked_from: Path | None = None) -> None:
        self.out = out
        self.linked_from = linked_from
        # Nothing in it yet (a first build, or --clean after removing it): nothing to sweep.
        self._empty = not out.is_dir() or next(_entries(out), None) is None
        self._staging = os.path.join(out, STAGING)
        self._staging_made = False
        self._pending: set[str] = set()
        self._folders: set[str] = set()  # folders this writer published into: they exist
        # The folders made aside (:meth:`make_folders`), by the new top folder they are in,
        # parents first (paths in the output folder).
        self._new_folders: dict[str, list[str]] = {}
        # By output, the size and mtime each file staged here (or found published with the
        # same bytes) has once published.
        self.stamps: dict[str, tuple[int, int]] = {}

    def stage(self, output: str, data: FileData) -> tuple[os.stat_result, bool]:
        """Write ``output`` aside unless its published file already has these bytes.

        Returns the stat of the file as it will be published and whether it changes (and
        keeps its size and mtime in :attr:`stamps`). Rendered bytes are compared with the
        published file; a copied source file is taken as unchanged when the published copy
        has its size and mtime (copy2 keeps the mtime; rsync's own quick check).
        """
        stat, changed = self._stage(output, data)
        self.stamps[output] = (stat.st_size, stat.st_mtime_ns)
        return stat, changed

    def _stage(self, output: str, data: FileData) -> tuple[os.stat_result, bool]:
        # os.path rather than pathlib: this looks at every file of the site (a social card
        # per page) on every build, and writes each one of a clean build.
        target = os.path.join(self.out, output)
        published = _stat(target)
        if published is not None and _same_content(target, published, data):
            return published, False
        if not self._staging_made:
            os.makedirs(self._staging, exist_ok=True)  # (a worker may have made it)
            self._staging_made = True
        pending = self._staged_path(output)
        if isinstance(data, bytes):
            _write_file(pending, data)
        else:
            self._place(Path(data), Path(pending))
        return os.stat(pending), True

    def _place(self, source: Path, pending: Path) -> None:
        """Put ``source``'s bytes at ``pending``: linked from :attr:`linked_from`, else copied
        with its mtime (which :func:`_same_content` compares)."""
        if self.linked_from is not None and source.is_relative_to(self.linked_from):
            with contextlib.suppress(OSError):
                os.link(source, pending)
                return
        shutil.copy2(source, pending)

    def _staged_path(self, output: str) -> str:
        """Where ``output``'s new bytes wait: a name made from the output path, so that
        every process staging for this build finds the same one without being told."""
        name = hashlib.blake2b(output.encode("utf-8", "surrogateescape"), digest_size=16)
        return os.path.join(self._staging, name.hexdigest())

    def staged(self, output: str) -> None:
        """Record that ``output`` was staged (by this process or a worker)."""
        self._pending.add(output)

    def stage_all(self, files: SiteFiles | Mapping[str, FileData]) -> None:
        """:meth:`stage` every file of ``files`` (by output path), in sorted order."""
        for output, data in sorted(files.items()):
            if self.stage(output, data)[1]:
                self.staged(output)

    def make_folders(self, outputs: Iterable[str]) -> None:
        """Make the folders that ``outputs`` need and the site lacks, aside in the staging
        folder (a dot-folder: never served, removed by a :meth:`rollback`) until
        :meth:`commit` moves each new top folder into the site with one rename.

        For the caller's spare time (while worker processes render documents): a first
        build's commit, when only this process works, would otherwise make a folder per page.
        """
        aside = os.path.join(self._staging, _NEW_FOLDERS)
        shutil.rmtree(aside, ignore_errors=True)  # what a killed build made aside
        os.makedirs(aside)
        self._staging_made = True
        self._new_folders.clear()
        tops: dict[str, str] = {}  # each new folder's new top folder
        for folder in sorted(_folders_of(outputs)):  # (a folder sorts before those inside it)
            top = tops.get(folder.rpartition("/")[0])
            if top is None:
                if os.path.isdir(os.path.join(self.out, folder)):
                    continue
                top = folder
                os.makedirs(os.path.join(aside, folder))  # (the site's folders above it too)
            else:
                os.mkdir(os.path.join(aside, folder))
            tops[folder] = top
            self._new_folders.setdefault(top, []).append(folder)

    def commit(self, outputs: Collection[str], previous: Collection[str] | None = None) -> None:
        """Publish the staged files, and delete the published files not in ``outputs``.

        ``previous`` lists what the last build published: only those may be deleted, so a
        rebuild need not walk thousands of page folders. Without it (a first or ``--clean``
        build), every file in the folder that is not in ``outputs`` goes, hand-added ones too.
        """
        if not (self.out / MARKER).is_file():
            _make_folder(str(self.out))
            (self.out / MARKER).write_bytes(_MARKER_TEXT)
        pending = sorted(self._pending)
        self._move_new_folders(pending)
        if self._empty or len(pending) <= _RENAMES_AT_ONCE:
            # Nothing replaced (a first or clean build), or a few files: threads would cost
            # more to start than the renames wait.
            for output in pending:
                self._publish(output)
        else:
            # Imported here: a rebuild of a few pages starts no thread (2 ms of import).
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(_RENAMES_AT_ONCE) as renames:
                # In order of output, the first error raised (the others are published).
                for _ in renames.map(self._publish, pending):
                    pass
        self._pending.clear()
        shutil.rmtree(self._staging, ignore_errors=True)
        if previous is None:
            if not self._empty:
                _remove_all_but(self.out, {*outputs, MARKER})
        elif previous:  # (a rebuild that knows it publishes the same files passes none)
            _remove_outputs(self.out, sorted(set(previous) - {*outputs, MARKER}))

    def _move_new_folders(self, pending: list[str]) -> None:
        """Move into the site the new top folders (:meth:`make_folders`) that the ``pending``
        outputs need, without the folders inside them that none needs (a failed build
        leaves no new folder, a build that worked no empty one it made)."""
        needed = _folders_of(pending)
        aside = os.path.join(self._staging, _NEW_FOLDERS)
        for top, folders in self._new_folders.items():
            if top not in needed:
                continue
            for folder in reversed(folders):  # (those inside a folder before it)
                if folder not in needed:
                    os.rmdir(os.path.join(aside, folder))
            target = os.path.join(self.out, top)
            if os.path.isfile(target) or os.path.islink(target):
                os.unlink(target)  # a file of the last build where a folder goes now
            with contextlib.suppress(OSError):  # made meanwhile: _publish makes what it lacks
                os.rename(os.path.join(aside, top), target)
        self._new_folders.clear()

    def _publish(self, output: str) -> None:
        """Put the staged file of ``output`` in place (its folder made now, not when it was
        staged: a failed build leaves no new folder in the site)."""
        target = os.path.join(self.out, output)  # (os.path: a template edit's every post)
        pending = self._staged_path(output)
        try:
            # Most files replace one of the last build in its folder: tried first, without
            # a stat of the folder or the file (two per post of a template edit).
            os.replace(pending, target)
        except OSError as refused:  # no folder, a folder in the way, a file held open
            self._make_way(target)
            _replace(pending, target, first_refused=isinstance(refused, PermissionError))

    def _make_way(self, target: str) -> None:
        """Make the folder of ``target`` (a file in the way removed) and remove a folder
        where ``target`` goes."""
        folder = os.path.dirname(target)
        if folder not in self._folders:
            _make_folder(folder)
            self._folders.add(folder)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)  # a folder of the last build where a file goes now

    def rollback(self) -> None:
        """Remove the staging folder (and the new folders made aside): the last site is
        intact."""
        shutil.rmtree(self._staging, ignore_errors=True)
        self._new_folders.clear()
        if self._empty and self.out.is_dir() and next(self.out.iterdir(), None) is None:
            self.out.rmdir()
        self._pending.clear()


# Windows refuses to replace a file that another program holds open (an editor showing it,
# a virus scanner reading it, a browser viewing it through file://). Such holds are short, so
# a refused rename is tried again for about a second before the build gives up on it.
_REPLACE_TRIES = 10
_REPLACE_PAUSE = 0.1


def _replace(pending: str, target: str, *, first_refused: bool = False) -> None:
    """Rename ``pending`` over ``target``, waiting out a short hold on ``target``
    (``first_refused``: the caller's try was the first, refused)."""
    if first_refused:
        time.sleep(_REPLACE_PAUSE)
    for attempt in range(1 + first_refused, _REPLACE_TRIES + 1):
        try:
            os.replace(pending, target)
            return
        except PermissionError as exc:
            if attempt == _REPLACE_TRIES:
                raise SiteError(
                    f"cannot replace {display_path(target)}: {exc.strerror}",
                    hint="close the program that has it open (on Windows an editor or viewer "
                    "holding a file stops it being replaced) and build again; files replaced "
                    "before it are already new",
                ) from None
            time.sleep(_REPLACE_PAUSE)


def _folders_of(outputs: Iterable[str]) -> set[str]:
    """The folders that hold ``outputs`` (paths in the output folder), and those above them."""
    folders: set[str] = set()
    for output in outputs:
        folder = output.rpartition("/")[0]
        while folder and folder not in folders:
            folders.add(folder)
            folder = folder.rpartition("/")[0]
    return folders


def _make_folder(folder: str) -> None:
    """Make ``folder`` and its parents, removing a file of the last build in the way (os.path:
    this runs for every folder published into)."""
    if not folder or os.path.isdir(folder):
        return
    _make_folder(os.path.dirname(folder))
    if os.path.isfile(folder) or os.path.islink(folder):
        with contextlib.suppress(FileNotFoundError):  # another rename thread removed it
            os.unlink(folder)
    with contextlib.suppress(FileExistsError):  # another rename thread made it meanwhile
        os.mkdir(folder)


@contextmanager
def site_writer(out: Path, *, linked_from: Path | None = None) -> Iterator[SiteWriter]:
    """A :class:`SiteWriter` for ``out`` that rolls back if the block fails."""
    writer = SiteWriter(out, linked_from=linked_from)
    try:
        yield writer
    except BaseException:
        writer.rollback()
        raise


def _entries(out: Path) -> Iterator[Path]:
    """What ``out`` holds besides a staging folder (a first build killed before it
    published anything left only that)."""
    return (path for path in out.iterdir() if path.name != STAGING)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _same_content(published: str, stat: os.stat_result, data: FileData) -> bool:
    try:
        if not isinstance(data, bytes):  # a source file's path
            source = os.stat(data)
            return (stat.st_size, stat.st_mtime_ns) == (source.st_size, source.st_mtime_ns)
        if stat.st_size != len(data):
            return False
        return _read_file(published, len(data) + 1) == data  # (+1: one that grew meanwhile)
    except OSError:  # a folder where a file goes, or unreadable: write it afresh
        return False


# A file's bytes are read and written with os.open rather than open(): a template edit stages
# every post, and a file object costs three or four system calls more each (its buffer's
# size, whether it is a terminal, where it is) besides the object itself.
_BINARY = getattr(os, "O_BINARY", 0)  # (Windows: no newline translation)


def _read_file(path: str, size: int) -> bytes:
    """Up to ``size`` bytes from the start of the file at ``path``."""
    descriptor = os.open(path, os.O_RDONLY | _BINARY)
    try:
        parts = []
        while size > 0 and (part := os.read(descriptor, size)):
            parts.append(part)
            size -= len(part)
        return b"".join(parts)
    finally:
        os.close(descriptor)


def _write_file(path: str, data: bytes) -> None:
    """Make the file at ``path`` hold ``data`` (created, or emptied first)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _BINARY, 0o666)
    try:
        view = memoryview(data)
        while view:  # (a write may take part of it)
            view = view[os.write(descriptor, view) :]
    finally:
        os.close(descriptor)


def _remove_outputs(out: Path, outputs: list[str]) -> None:
    """Delete these files under ``out``, and the folders they leave empty."""
    for output in outputs:
        target = out / output
        if target.is_dir() and not target.is_symlink():
            continue  # a file of the last build replaced by a folder of this one
        try:
            target.unlink(missing_ok=True)
        except NotADirectoryError:
            continue  # its folder of the last build is a file of this one: gone with it
        folder = target.parent
        while folder != out and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent


def _remove_all_but(out: Path, keep: set[str]) -> None:
    """Delete the files under ``out`` that are not in ``keep``, and folders left empty."""
    for directory, folders, files in os.walk(out, topdown=False):
        relative = os.path.relpath(directory, out)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        for name in files:
            if prefix + name not in keep:
                os.unlink(os.path.join(directory, name))
        for name in folders:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                os.unlink(path)
            elif not os.listdir(path):
                os.rmdir(path)


__all__ = [
    "MARKER",
    "STAGING",
    "FileData",
    "SiteFiles",
    "SiteWriter",
    "check_output_dir",
    "site_writer",
]
