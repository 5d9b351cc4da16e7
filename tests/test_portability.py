"""What differs between systems: paths with another separator, and how workers start.

URLs, output paths and source names are made from a path's parts, never from its string,
so a Windows path gives the same ``/``-separated names as a POSIX one. Parallel builds work
with every start method and give the same bytes; fork is never used from a process that
runs threads.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from build_support import snapshot, write_site

from launchkit.config import load_config
from launchkit.errors import SiteError
from launchkit.site import workers
from launchkit.site.builder import build_site
from launchkit.site.content import page_url, source_name, walk_order
from launchkit.site.workers import START_METHOD_ENV, start_method


@pytest.mark.parametrize("kind", [PureWindowsPath, PurePosixPath])
def test_urls_and_output_paths_use_slashes_on_every_system(kind) -> None:
    sep = "\\" if kind is PureWindowsPath else "/"
    assert page_url(kind(f"blog{sep}launch.md")) == ("/blog/launch/", "blog/launch/index.html")
    assert page_url(kind(f"docs{sep}api{sep}index.md")) == ("/docs/api/", "docs/api/index.html")
    assert page_url(kind(f"blog{sep}launch.md"), "go") == ("/blog/go/", "blog/go/index.html")
    assert page_url(kind("index.md")) == ("/", "index.html")
    assert page_url(kind("404.md")) == ("/404.html", "404.html")


def test_source_names_use_slashes_whatever_the_path() -> None:
    windows = source_name(PureWindowsPath("site\\content"), PureWindowsPath("blog\\a b.md"))
    assert windows == "site/content/blog/a b.md"
    assert source_name(PurePosixPath("content"), PurePosixPath("blog/x.md")) == "content/blog/x.md"


def test_a_page_under_a_drive_letter() -> None:
    """As read_source places a file: relative to the project and to content/."""
    root = PureWindowsPath("C:\\Users\\me\\site")
    file = PureWindowsPath("C:\\Users\\me\\site\\content\\blog\\Launch Day.md")
    relative = file.relative_to(root / "content")
    assert source_name((root / "content").relative_to(root), relative) == (
        "content/blog/Launch Day.md"
    )
    assert page_url(relative) == ("/blog/Launch Day/", "blog/Launch Day/index.html")


def test_pages_are_in_the_walk_order_on_every_system() -> None:
    names = ["blog\\b.md", "index.md", "blog\\a.md", "about.md", "blog\\old\\z.md", "docs\\x.md"]
    ordered = sorted(names, key=lambda name: walk_order(PureWindowsPath(name).parts))
    assert ordered == [
        "about.md",
        "index.md",  # a folder's own files first
        "blog\\a.md",
        "blog\\b.md",
        "blog\\old\\z.md",
        "docs\\x.md",
    ]


def test_the_start_method_can_be_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(START_METHOD_ENV, "spawn")
    assert start_method() == "spawn"
    monkeypatch.setenv(START_METHOD_ENV, "vfork")
    with pytest.raises(SiteError, match="LAUNCHKIT_START_METHOD=vfork"):
        start_method()


def test_no_fork_from_a_process_running_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(START_METHOD_ENV, raising=False)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert start_method() != "fork"
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_every_start_method_builds_the_same_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    root = write_site(tmp_path)
    config = load_config(root / "site.toml")
    build_site(config, root / "serial", workers=1)
    monkeypatch.setenv(START_METHOD_ENV, method)
    monkeypatch.setattr(workers, "PARALLEL_THRESHOLD", 0)  # every job list goes to workers
    report = build_site(config, root / "parallel", workers=2, clean=True)
    assert report.markdown_rendered == report.rendered == report.pages
    assert snapshot(root / "parallel") == snapshot(root / "serial")


def _no_state(payload: object) -> None:
    return None


def _slow_first(state: None, item: tuple[int, str]) -> int:
    number, text = item
    if number == 0:
        time.sleep(1.5)  # the other worker finishes its share and ends meanwhile
    return number + len(text)


def test_workers_take_big_job_lists_and_uneven_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(START_METHOD_ENV, "spawn")
    # Queued jobs far beyond what a pipe holds (64 KiB) before any worker reads them.
    items = [(number, "x" * 5000) for number in range(300)]
    with workers.Workers(2) as processes:
        results = workers.run_jobs(
            _slow_first, items, None, setup=_no_state, payload=lambda: None, workers=processes
        )
    assert results == [number + 5000 for number in range(300)]


def _finished_at(state: None, item: tuple[int, str]) -> float:
    time.sleep(0.005)
    return time.monotonic()  # one clock for every process


def test_results_are_kept_as_they_come_not_once_every_job_is_done() -> None:
    """The parent takes each chunk's results while the workers go on: neither it nor they
    hold every result at once (at 20000 pages, every rendered body of a cold build)."""
    items = [(number, "x" * 5000) for number in range(400)]  # far beyond a pipe's 64 KiB
    kept_at: list[float] = []

    def keep(item: tuple[int, str], finished_at: float) -> float:
        kept_at.append(time.monotonic())
        return finished_at

    with workers.Workers(2) as processes:
        finished = workers.run_jobs(
            _finished_at,
            items,
            None,
            setup=_no_state,
            payload=lambda: None,
            workers=processes,
            keep=keep,
        )
    done_before_first_kept = sum(1 for at in finished if at < kept_at[0])
    assert done_before_first_kept < len(items) // 2


def test_a_file_held_open_elsewhere_is_replaced_once_let_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows refuses os.replace over a file another program holds: tried again a while."""
    root = write_site(tmp_path)
    config = load_config(root / "site.toml")
    build_site(config, root / "public")
    (root / "content/index.md").write_text("---\ntitle: Home\n---\nNew.\n", encoding="utf-8")
    real_replace, refusals = os.replace, []

    def held_twice(source, target):
        if str(target).endswith("index.html") and len(refusals) < 2:
            refusals.append(target)
            raise PermissionError(13, "The process cannot access the file")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", held_twice)
    build_site(config, root / "public")
    assert len(refusals) == 2
    assert "New." in (root / "public/index.html").read_text(encoding="utf-8")

    def held(source, target):
        raise PermissionError(13, "The process cannot access the file")

    monkeypatch.setattr(os, "replace", held)
    (root / "content/index.md").write_text("---\ntitle: Home\n---\nNewer.\n", encoding="utf-8")
    with pytest.raises(SiteError, match=r"cannot replace .*index.html: The process cannot access"):
        build_site(config, root / "public")


def _fail_on_seven(state: None, item: int) -> int:
    if item == 7:
        raise SiteError("job seven failed")
    return item


@pytest.mark.parametrize("count", [5, 150])  # in this process, and over worker processes
def test_other_work_meanwhile_is_done_and_the_jobs_failures_come_first(count: int) -> None:
    done = []

    def meanwhile() -> None:
        done.append(True)

    def failing_meanwhile() -> None:
        raise SiteError("meanwhile failed")

    def run(job, other):
        return workers.run_jobs(
            job,
            range(count),
            None,
            setup=_no_state,
            payload=lambda: None,
            workers=processes,
            meanwhile=other,
        )

    with workers.Workers(2) as processes:
        assert run(_identity, meanwhile) == list(range(count))
        assert done == [True]
        with pytest.raises(SiteError, match="meanwhile failed"):
            run(_identity, failing_meanwhile)
        if count > 7:
            with pytest.raises(SiteError, match="job seven failed"):
                run(_fail_on_seven, failing_meanwhile)


def _identity(state: None, item: int) -> int:
    return item


def test_image_cache_files_are_linked_into_the_site_not_copied(tmp_path: Path) -> None:
    """Cards and variants are named by content and written by rename: a link is safe."""
    root = write_site(tmp_path)
    config = load_config(root / "site.toml")
    build_site(config, root / "public")
    cards = sorted((root / "public/social").iterdir())
    assert cards
    for card in cards:
        assert card.stat().st_nlink >= 2, card
        assert any(card.samefile(cached) for cached in _image_cache_files()), card


def _image_cache_files() -> list[Path]:
    from launchkit.site.media import IMAGE_CACHE_ENV

    return [path for path in Path(os.environ[IMAGE_CACHE_ENV]).rglob("*") if path.is_file()]
