"""Atomic publish: the whole site is written aside, then swapped into place.

A failed build removes its temporary folder and leaves the last good site untouched; a
visitor of a host serving the output folder never sees a half-written site. The output
folder itself is checked first, so that no typo in ``--out`` can replace the sources.

The boundary for a later incremental build is :func:`write_tree`, which receives every file
of the site.
"""

from __future__ import annotations

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


class SiteFiles:
    """Every file of the site to publish, by output path, refusing two sources for one path."""

    def __init__(self) -> None:
        self._files: dict[str, FileData] = {}
        self._origins: dict[str, str] = {}

    def add(self, output: str, data: FileData, origin: str) -> None:
        """Add a file; ``origin`` (a source path, "sitemap") names it in a collision error."""
        key = output.casefold()  # case-insensitive hosts and file systems would clash too
        if key in self._origins:
            raise SiteError(
                f"both {self._origins[key]} and {origin} would be published as {output}",
                origin,
                hint="rename or move one of them",
            )
        self._origins[key] = origin
        self._files[output] = data

    def __len__(self) -> int:
        return len(self._files)

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
    return out


def _refused(out_dir: Path, why: str) -> SiteError:
    return SiteError(
        f"refusing to publish into {out_dir}: {why}",
        hint="pick a separate output folder such as public/ (the build replaces its contents)",
    )


def publish(files: SiteFiles, out_dir: Path) -> None:
    """Write ``files`` into a temporary folder beside ``out_dir``, then swap it into place."""
    with staging_dir(out_dir) as staging:
        write_tree(staging, files)


def write_tree(dest: Path, files: SiteFiles) -> None:
    """Write every file under ``dest``: bytes as they are, source paths copied with metadata.

    The one place that writes site files: an incremental build can make it reuse unchanged
    files of the previous output (hard link or copy) so that they keep their mtime.
    """
    for output, data in files.items():
        target = dest / output
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, Path):
            shutil.copy2(data, target)
        else:
            target.write_bytes(data)


@contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """A fresh folder beside ``out_dir``; swapped into place if the block succeeds.

    Beside the output, not in /tmp, so that the final renames stay on one file system and
    are atomic. On any failure the folder is removed and ``out_dir`` is left as it was.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    try:
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
    shutil.rmtree(old, ignore_errors=True)


__all__ = ["FileData", "SiteFiles", "check_output_dir", "publish", "staging_dir", "write_tree"]
