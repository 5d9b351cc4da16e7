"""Which file system a benchmark's files are on: a build's times depend on it.

Linux's ext4 *without a journal* (some cloud and microVM images mount their root so; this
team's machines do) passes over every inode freed in the last minute (six while its inode
table block is not yet written back) each time it allocates one: ``recently_deleted()`` in
``fs/ext4/ialloc.c``, asked only when the file system has no journal. Creating thousands of
files right after deleting thousands, as a cold build into a just-emptied output folder
does, then costs up to a millisecond of kernel CPU per file, growing with each round
(``perf record -g``: ``find_inode_bit`` -> ``recently_deleted``). On the same machine a
journaled ext4 (a loop mount) does not pay it. The benchmarks print the file system beside
their figures, so that runs on different disks are not compared unknowingly.
"""

from __future__ import annotations

import os
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
# One entry per journaled file system being used, named "<device>-<journal inode>".
JOURNALS = Path("/proc/fs/jbd2")


def describe_disk(path: Path, mountinfo: Path = MOUNTINFO, journals: Path = JOURNALS) -> str:
    """The file system holding ``path``: its type, device and, for ext4, whether it has a
    journal; "unknown" where the system does not say (not Linux)."""
    mount = _mount_of(os.path.realpath(path), mountinfo)
    if mount is None:
        return "unknown file system"
    point, kind, device = mount
    text = f"{kind} on {device} (mounted at {point})"
    if kind != "ext4" or not journals.is_dir():
        return text
    name = os.path.basename(os.path.realpath(device))  # /dev/mapper/x is a link to dm-N
    if any(entry.name.startswith(f"{name}-") for entry in journals.iterdir()):
        return f"{text}, with a journal"
    return (
        f"{text}, WITHOUT a journal: files made right after many were deleted cost up to "
        "~1 ms of kernel CPU each (bench/disk.py); TMPDIR=<a journaled folder> avoids it"
    )


def _mount_of(path: str, mountinfo: Path) -> tuple[str, str, str] | None:
    """(mount point, file system type, device) of the deepest mount holding ``path``."""
    try:
        lines = mountinfo.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    best: tuple[str, str, str] | None = None
    for line in lines:
        # "36 35 98:0 / /mnt rw,noatime master:1 - ext4 /dev/vda rw": the fields after the
        # " - " separator are the type and the device; spaces in paths are written \040.
        mounted, separator, described = line.partition(" - ")
        fields, tail = mounted.split(), described.split()
        if not separator or len(fields) < 5 or len(tail) < 2:
            continue
        point = fields[4].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, tail[0], tail[1])
    return best


__all__ = ["describe_disk"]
