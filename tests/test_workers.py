"""Worker processes outlive a step, never their owner: a build, or a preview's context.

With spawn and forkserver each start is a fresh interpreter importing launchkit, Markdown,
Jinja and Pygments: one build starts its workers once for all its steps, and the preview
once for all its rebuilds. With fork each step forks its own (cheap, and they inherit the
step's payload). Which processes ran a step is seen from the step itself (its setup notes
the process id); none of them runs once its owner is done.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from build_support import write_site
from test_serve_preview import EventStream

from launchkit.config import load_config
from launchkit.errors import SiteError
from launchkit.preview import start_preview
from launchkit.site import builder, workers
from launchkit.site.builder import build_site
from launchkit.site.context import BuildContext
from launchkit.site.workers import START_METHOD_ENV, Workers, run_jobs

METHODS = ["spawn", "forkserver", "fork"]
KEPT = ["spawn", "forkserver"]  # the start methods whose processes serve every step
ITEMS = range(workers.PARALLEL_THRESHOLD + 50)  # enough to go to workers


# Every worker sets up each step (a worker may run none of its jobs): the steps' setups
# note which processes ran them, in a folder the payload names.


def _note(folder: Path, step: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{step}-{os.getpid()}").touch()


def noted(folder: Path) -> dict[str, set[int]]:
    """The processes that set up each step since the last call, by step."""
    found: dict[str, set[int]] = {}
    for note in folder.iterdir():
        step, _, pid = note.name.partition("-")
        found.setdefault(step, set()).add(int(pid))
        note.unlink()
    return found


def _noting_setup(payload: tuple[str, str]) -> str:
    folder, step = payload
    _note(Path(folder), step)
    return step


def _step(state: str, item: int) -> str:
    return state


def _fail_on_seven(state: str, item: int) -> str:
    if item == 7:
        raise SiteError("job seven failed")
    return state


def _bug_on_seven(state: str, item: int) -> str:
    if item == 7:
        raise KeyError("a bug")
    return state


def _die_on_seven(state: str, item: int) -> str:
    if item == 7:
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer does
    return state


def run_step(processes: Workers, folder: Path, step: str, job=_step) -> set[int]:
    """One step of ``job`` over :data:`ITEMS`: the processes that set it up."""
    payload = (str(folder), step)
    results = run_jobs(
        job, ITEMS, None, setup=_noting_setup, payload=lambda: payload, workers=processes
    )
    assert set(results) == {step}  # each worker's state is made from this step's payload
    return noted(folder)[step]


def running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in "ZX"


@pytest.fixture(params=METHODS)
def method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(START_METHOD_ENV, request.param)
    return request.param


@pytest.fixture(params=KEPT)
def kept(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(START_METHOD_ENV, request.param)
    return request.param


def test_every_step_runs_on_the_same_processes_each_with_its_own_state(
    tmp_path: Path, kept: str
) -> None:
    with Workers(2) as processes:
        pids = run_step(processes, tmp_path, "first")
        assert run_step(processes, tmp_path, "second") == pids
    assert len(pids) == 2 and os.getpid() not in pids
    assert not any(running(pid) for pid in pids)


def test_a_step_whose_jobs_failed_leaves_the_processes_ready(tmp_path: Path, kept: str) -> None:
    with Workers(2) as processes:
        pids = run_step(processes, tmp_path, "first")
        with pytest.raises(SiteError, match="job seven failed"):
            run_step(processes, tmp_path, "failing", _fail_on_seven)
        assert run_step(processes, tmp_path, "after") == pids
    assert not any(running(pid) for pid in pids)


def test_with_fork_each_step_forks_its_own_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(START_METHOD_ENV, "fork")
    with Workers(2) as processes:
        first = run_step(processes, tmp_path, "first")
        assert not any(running(pid) for pid in first)
        with pytest.raises(SiteError, match="job seven failed"):
            run_step(processes, tmp_path, "failing", _fail_on_seven)
        second = run_step(processes, tmp_path, "second")
    assert len(first) == len(second) == 2 and not first & second
    assert not any(running(pid) for pid in second)


@pytest.mark.parametrize(
    ("job", "error"), [(_bug_on_seven, "KeyError: 'a bug'"), (_die_on_seven, "died")]
)
def test_a_bug_or_a_dead_worker_ends_the_processes_and_the_next_step_starts_new_ones(
    tmp_path: Path, method: str, job, error: str
) -> None:
    with Workers(2) as processes:
        before = run_step(processes, tmp_path, "first")
        with pytest.raises((RuntimeError, SiteError), match=error):
            run_step(processes, tmp_path, "broken", job)
        assert not any(running(pid) for pid in before)
        after = run_step(processes, tmp_path, "after")
        assert len(after) == 2 and not after & before
    assert not any(running(pid) for pid in after)


# --- builds: the jobs note which process ran them -----------------------------------------


_read_setup = builder._ReadState.setup
_document_setup = builder._DocumentPayload.setup


def _noting_read_setup(payload):
    _note(payload[0].root / ".pids", "read")
    return _read_setup(payload)


def _noting_document_setup(payload):
    _note(payload.config.root / ".pids", "documents")
    return _document_setup(payload)


@pytest.fixture
def noting(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every step of a build over workers, its setup noting the process in the site's
    ``.pids`` (sent by reference: a spawned worker imports this module to run it)."""
    monkeypatch.setattr(workers, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(builder._ReadState, "setup", staticmethod(_noting_read_setup))
    monkeypatch.setattr(builder._DocumentPayload, "setup", _noting_document_setup)
    yield


def test_a_build_starts_its_workers_once_for_all_its_steps(
    tmp_path: Path, kept: str, noting: None
) -> None:
    root = write_site(tmp_path)
    build_site(load_config(root / "site.toml"), root / "public", workers=2)
    steps = noted(root / ".pids")
    assert steps.keys() == {"read", "documents"}
    assert steps["read"] == steps["documents"]
    assert len(steps["read"]) == 2 and os.getpid() not in steps["read"]
    assert not any(running(pid) for pid in steps["read"])


def test_a_failed_build_leaves_no_worker_running(tmp_path: Path, method: str, noting: None) -> None:
    root = write_site(tmp_path, {"content/sc.md": "---\ntitle: S\n---\n{{< /nope >}}\n"})
    with pytest.raises(SiteError, match="nope"):
        build_site(load_config(root / "site.toml"), root / "public", workers=2)
    pids = set().union(*noted(root / ".pids").values())
    assert pids and not any(running(pid) for pid in pids)


def test_a_context_that_keeps_workers_runs_every_build_on_them_until_closed(
    tmp_path: Path, kept: str, noting: None
) -> None:
    root = write_site(tmp_path)
    config = load_config(root / "site.toml")
    context = BuildContext(keep_workers=True)
    try:
        build_site(config, root / "public", workers=2, context=context)
        first = noted(root / ".pids")
        build_site(config, root / "public", workers=2, context=context, clean=True)
        second = noted(root / ".pids")
    finally:
        context.close()
    assert first["read"] == first["documents"] == second["read"] == second["documents"]
    assert not any(running(pid) for pid in first["read"])


def test_the_preview_keeps_its_workers_between_rebuilds_and_ends_them_when_it_stops(
    tmp_path: Path, noting: None
) -> None:
    """With its threads, the preview's workers start by forkserver on Linux."""
    root = write_site(tmp_path)
    preview = start_preview(root / "site.toml", port=0, environ={})
    try:
        first = noted(root / ".pids")
        stream = EventStream(preview)
        try:
            stream.wait_for("hello")
            base = root / "templates/base.html"
            base.write_text(base.read_text().replace("</body>", "<!-- edited --></body>"))
            stream.wait_for("reload")
        finally:
            stream.close()
        again = noted(root / ".pids")
    finally:
        preview.stop()
    assert again["documents"] == first["documents"] == first["read"]
    assert not any(running(pid) for pid in first["read"])
