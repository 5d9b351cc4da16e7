"""Atomic publish: the whole site is written aside, then swapped into place.

A failed build removes its temporary folder and leaves the last good site untouched; a
visitor of a host serving the output folder never sees a half-written site. The output
folder itself is checked first, so that no typo in ``--out`` can replace the sources or an
unrelated folder: a build output carries a :data:`MARKER` file.

A file whose bytes did not change since the last build is not written again: the previous
output's file is hard-linked into the new tree, so it keeps its mtime and rsync-style
deploys upload only what changed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .config import SiteConfig
from .content import display_path
from .errors import SiteError

# What a site file is made of: rendered bytes, or a source file to copy as it is.
FileData = bytes | Path

# In every build output, so that the next build knows it may replace the folder.
MARKER = ".launchkit-build"
_MARKER_TEXT = b"Built by launchkit: the next build replaces this folder as a whole.\n"


class SiteFiles:
    """Every file of the site to publish, by output path, refusing two sources for one path."""

    def __init__(self) -> None:
        self._files: dict[str, FileData] = {}
        self._origins: dict[str, str] = {}
        self._claimed: list[str] = []

    def add(self, output: str, data: FileData, origin: str) -> None:
        """Add a file; ``origin`` (a source path, "sitemap") names it in a collision error."""
        self.reserve(output, origin)
        self._files[output] = data

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
        return len(self._files)

    def outputs(self) -> list[str]:
        """Every claimed output path: the files added and the ones reserved."""
        return list(self._claimed)

    def items(self) -> list[tuple[str, FileData]]:
        """The files in sorted order (deterministic writes)."""
        return sorted(self._files.items())


def check_output_dir(out_dir: Path, config: SiteConfig) -> Path:
    """The resolved output folder, or a SiteError when replacing it would destroy sources.

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
    if out.is_dir() and next(out.iterdir(), None) and not (out / MARKER).is_file():
        raise _refused(
            out_dir, f"it is not empty and is not a launchkit build output (no {MARKER} file)"
        )
    return out


def _refused(out_dir: Path, why: str) -> SiteError:
    return SiteError(
        f"refusing to publish into {out_dir}: {why}",
        hint="pick a separate output folder such as public/ (the build replaces its contents)",
    )


class StagingTree:
    """Writes site files into a staging folder, reusing unchanged files of the last build.

    ``previous`` is the current output folder (None on a first build). Worker processes
    each make their own instance for the same folder.
    """

    def __init__(self, dest: Path, previous: Path | None) -> None:
        self.dest = dest
        self.previous = previous if previous is not None and previous.is_dir() else None
        self._folders: set[Path] = set()

    def write(self, output: str, data: FileData) -> os.stat_result:
        """Put one file at ``output``; the previous build's file if it has the same bytes.

        Rendered bytes are compared with the old file; a copied source file is taken as
        unchanged when the old copy has its size and mtime (copy2 keeps the mtime; rsync's
        own quick check).
        """
        target = self._target(output)
        old = self.previous / output if self.previous is not None else None
        if old is not None and _same_content(old, data):
            self._link(old, target)
        elif isinstance(data, Path):
            shutil.copy2(data, target)
        else:
            target.write_bytes(data)
        return target.stat()

    def reuse(self, output: str) -> None:
        """Put the previous build's ``output`` in place as it is (its bytes are known good)."""
        assert self.previous is not None  # only called for files of the previous build
        self._link(self.previous / output, self._target(output))

    def write_all(self, files: SiteFiles) -> None:
        """Every file of ``files``, in sorted order."""
        for output, data in files.items():
            self.write(output, data)

    def _target(self, output: str) -> Path:
        target = self.dest / output
        if target.parent not in self._folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(target.parent)
        return target

    @staticmethod
    def _link(old: Path, target: Path) -> None:
        try:
            os.link(old, target)
        except OSError:  # a file system without hard links
            shutil.copy2(old, target)


def _same_content(old: Path, data: FileData) -> bool:
    try:
        stat = old.stat()
        if isinstance(data, Path):
            source = data.stat()
            return (stat.st_size, stat.st_mtime_ns) == (source.st_size, source.st_mtime_ns)
        return stat.st_size == len(data) and old.read_bytes() == data
    except OSError:
        return False


@contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """A fresh folder beside ``out_dir``; swapped into place if the block succeeds.

    Beside the output, not in /tmp, so that the final renames stay on one file system and
    are atomic. On any failure the folder is removed and ``out_dir`` is left as it was.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    try:
        StagingTree(staging, out_dir).write(MARKER, _MARKER_TEXT)
        yield staging
        staging.chmod(0o755)  # mkdtemp makes it private; a web server must read the site
        _swap(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap(staging: Path, out_dir: Path) -> None:
    """Put ``staging`` at ``out_dir``: old output renamed aside, new renamed in, old removed."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    old.rmdir()  # only the unique name is wanted; rename needs it free
    out_dir.rename(old)
    try:
        staging.rename(out_dir)
    except BaseException:
        old.rename(out_dir)  # put the last good site back
        raise
    # With it, any old site an interrupted removal left behind.
    _remove_in_background(sorted(out_dir.parent.glob(f".{out_dir.name}.old-*")))


def _remove_in_background(folders: list[Path]) -> None:
    """Delete old sites without making the build wait for thousands of unlinks.

    A grandchild process does it (double fork: it needs no reaping and outlives a CLI that
    has finished); it only calls rmtree, so forking a threaded process is safe. Without
    fork, the folders are removed here.
    """
    if not folders:
        return
    if not hasattr(os, "fork"):
        _remove(folders)
        return
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked processes
        try:
            if os.fork() == 0:
                _remove(folders)
        finally:
            os._exit(0)
    os.waitpid(child, 0)


def _remove(folders: list[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["MARKER", "FileData", "SiteFiles", "StagingTree", "check_output_dir", "staging_dir"]
