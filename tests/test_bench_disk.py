"""The benchmarks name the file system their files are on (bench/disk.py): a journal-less
ext4 makes a cold build into an emptied folder slower, and the figures must say so."""

from __future__ import annotations

from pathlib import Path

from bench.disk import describe_disk

MOUNTS = """\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
30 22 7:0 / /mnt/with\\040space rw,relatime - ext4 /dev/loop0 rw
31 22 0:25 / /dev/shm rw,nosuid - tmpfs tmpfs rw
"""


def _proc(tmp_path: Path, journals: list[str]) -> tuple[Path, Path]:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(MOUNTS, encoding="utf-8")
    folder = tmp_path / "jbd2"
    folder.mkdir()
    for name in journals:
        (folder / name).mkdir()
    return mountinfo, folder


def test_an_ext4_without_a_journal_is_named_as_such(tmp_path: Path) -> None:
    mountinfo, journals = _proc(tmp_path, ["loop0-8"])

    text = describe_disk(Path("/home/site"), mountinfo, journals)

    assert text.startswith("ext4 on /dev/vda (mounted at /), WITHOUT a journal")


def test_the_deepest_mount_holding_the_path_is_described(tmp_path: Path) -> None:
    mountinfo, journals = _proc(tmp_path, ["loop0-8"])

    assert describe_disk(Path("/mnt/with space/x"), mountinfo, journals) == (
        "ext4 on /dev/loop0 (mounted at /mnt/with space), with a journal"
    )
    assert describe_disk(Path("/dev/shm/bench"), mountinfo, journals) == (
        "tmpfs on tmpfs (mounted at /dev/shm)"
    )


def test_a_system_that_does_not_say_gives_unknown(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-file"

    assert describe_disk(tmp_path, missing, missing) == "unknown file system"


def test_this_machine_is_described(tmp_path: Path) -> None:
    text = describe_disk(tmp_path)

    if Path("/proc/self/mountinfo").exists():  # Linux says; elsewhere "unknown", no error
        assert text != "unknown file system"
        assert " on " in text
