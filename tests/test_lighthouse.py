"""Site quality held in CI: Lighthouse over every page of the example site, phone and desktop.

The example site is built and served locally (the ``e2e_site`` fixture); Lighthouse, the npm
package pinned in ``package-lock.json`` (``npm ci`` installs it), drives Debian's Chromium
through ``tests/lighthouse/run.mjs`` with Rewardful's script blocked. Every score and every
audit that lowered one is printed, with each run's Total Blocking Time. The bar: 100 in
accessibility, best practices and SEO, whose audits are deterministic, and 95 in performance.

Performance moves with the machine's load, one way only. The example's pages cost about 0.1
CPU s of main-thread work, but Lighthouse takes each task's wall time from the trace and
multiplies it by 4 on the phone preset. On a busy 2-core machine the renderer waits for a
core, its largest tasks last 2-4 times their CPU time, and Total Blocking Time reads
150-1500 ms on pages of every kind where the tasks' CPU time would give 20-90 ms. Load never
makes a page faster, so the best of a few runs is the fair estimate; Lighthouse's
variability guide (docs/variability.md, "Run Lighthouse multiple times") names min/max among
the aggregates to judge by. A run that misses only the performance bar is run again,
performance alone (the other categories were judged on the first run), up to
``PERFORMANCE_RETRIES`` times, and the best counts. Runs are never made in parallel: the
same guide says concurrent runs skew each other's results. Only the audits that weigh in a
score run (``run.mjs``), so the scores are those of a full run.

Pages marked ``noindex`` (thanks, canceled, 404) ask search engines not to index them, which
Lighthouse's ``is-crawlable`` audit counts against SEO: on those pages, and only there, that
one audit is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import CHROMIUM_ARGS, ROOT, E2ESite, find_chromium, free_port, stop

pytest_plugins = ["e2e.fixtures"]
pytestmark = pytest.mark.browser

RUNNER = ROOT / "tests" / "lighthouse" / "run.mjs"
LIGHTHOUSE = ROOT / "node_modules" / "lighthouse"
PRESETS = ("mobile", "desktop")
# Lowest passing score per category.
MINIMUM = {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 100}
BLOCKED = ["*r.wdfl.co*"]  # Rewardful's script: not reachable here, and not ours to judge
NOINDEX = '<meta name="robots" content="noindex">'
# Twenty-odd runs of ~10 s each; a hung Chromium must not hold CI for its 90 minutes.
TIMEOUT = 900


def _missing(what: str) -> None:
    message = f"{what}: run `npm ci` (needs node) to install Lighthouse"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must install it (.ci/run)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def debugging_port() -> Iterator[int]:
    """One headless Chromium for every run, reached by Lighthouse on a remote-debugging port."""
    chromium = find_chromium()
    if chromium is None:
        _missing("no Chromium")
    if shutil.which("node") is None or not LIGHTHOUSE.is_dir():
        _missing("no node or no node_modules/lighthouse")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="lighthouse-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [
                str(chromium),
                "--headless=new",
                "--disable-quic",
                f"--user-data-dir={profile}",
                f"--remote-debugging-port={port}",
                *CHROMIUM_ARGS,
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_devtools(port, process)
            yield port
        finally:
            stop(process, timeout=10)


def _wait_for_devtools(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Chromium exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError("Chromium's remote debugging port did not answer within 30 s")


def lighthouse_pages(site: E2ESite) -> list[dict[str, object]]:
    """Every page of the site, with the audits to skip on each."""
    pages = []
    for url in site.all_pages():
        with urllib.request.urlopen(url, timeout=5) as response:
            noindex = NOINDEX in response.read().decode("utf-8")
        pages.append({"url": url, "skipAudits": ["is-crawlable"] if noindex else []})
    return pages


def run_lighthouse(plan: dict[str, object], folder: Path) -> Iterator[dict[str, object]]:
    """Each run's summary line, as ``run.mjs`` prints it, while Lighthouse goes on."""
    plan_file = folder / "plan.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    with subprocess.Popen(
        ["node", str(RUNNER), str(plan_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            for line in process.stdout:
                yield json.loads(line)
            process.wait(timeout=TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
        errors = process.stderr.read() if process.stderr else ""
        assert process.returncode == 0, f"Lighthouse failed ({process.returncode}):\n{errors}"


def describe(run: dict[str, object]) -> str:
    scores = run["scores"]
    assert isinstance(scores, dict)
    text = f"{run['preset']:<7} {run['url']}  " + "  ".join(
        f"{name} {score}" for name, score in scores.items()
    )
    if run["tbt"] is not None:  # the metric that moves with the machine's load
        text += f"  TBT {run['tbt']:.0f} ms"
    text += f"  ({run['seconds']:.0f} s)"
    for audit in run["failed"]:  # type: ignore[attr-defined]
        shown = f" {audit['displayValue']}" if audit["displayValue"] else ""
        text += f"\n          - {audit['category']}: {audit['id']} ({audit['score']}){shown}"
    return text


def below_bar(run: dict[str, object]) -> list[str]:
    scores = run["scores"]
    assert isinstance(scores, dict)
    if run["runtimeError"]:
        return [f"{run['preset']} {run['url']}: {run['runtimeError']}"]
    return [
        f"{run['preset']} {run['url']}: {category} {scores.get(category)} < {minimum}"
        for category, minimum in MINIMUM.items()
        if (scores.get(category) or 0) < minimum
    ]


def only_slow(run: dict[str, object]) -> bool:
    """Whether the run missed the bar in performance alone (timings move with load)."""
    problems = below_bar(run)
    return bool(problems) and all(": performance " in problem for problem in problems)


def with_performance_of(run: dict[str, object], retry: dict[str, object]) -> dict[str, object]:
    """``run`` with a performance-only ``retry``'s performance, if the retry scored higher."""
    scores, again = run["scores"], retry["scores"]
    assert isinstance(scores, dict) and isinstance(again, dict)
    if (again.get("performance") or 0) <= (scores.get("performance") or 0):
        return run
    failed = [a for a in run["failed"] if a["category"] != "performance"]  # type: ignore[attr-defined]
    return {
        **run,
        "scores": {**scores, "performance": again["performance"]},
        "tbt": retry["tbt"],
        "failed": failed + retry["failed"],  # type: ignore[operator]
    }


# A phone run on a busy 2-core machine lost up to 7 points of Total Blocking Time, twice in a row.
PERFORMANCE_RETRIES = 2


def test_every_page_scores_on_phone_and_desktop(
    e2e_site: E2ESite,
    debugging_port: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pages = lighthouse_pages(e2e_site)
    assert len(pages) >= 11, pages
    plan = {"port": debugging_port, "blocked": BLOCKED, "pages": pages}
    started = time.monotonic()
    runs: dict[tuple[str, str], dict[str, object]] = {}
    with capsys.disabled():
        print(f"\nLighthouse: {len(pages)} pages x {len(PRESETS)} presets")
        for run in run_lighthouse({**plan, "presets": PRESETS}, tmp_path):
            print(describe(run), flush=True)
            runs[run["preset"], run["url"]] = run  # type: ignore[index]
        for _ in range(PERFORMANCE_RETRIES):
            for preset in PRESETS:
                again = [page for page in pages if only_slow(runs[preset, page["url"]])]
                if not again:
                    continue
                print(f"Lighthouse: {len(again)} {preset} run(s) below 95, performance again")
                retry_plan = {
                    **plan,
                    "presets": [preset],
                    "pages": again,
                    "categories": ["performance"],
                }
                for retry in run_lighthouse(retry_plan, tmp_path):
                    print(describe(retry), flush=True)
                    key = preset, retry["url"]
                    runs[key] = with_performance_of(runs[key], retry)  # type: ignore[index]
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"Lighthouse: {time.monotonic() - started:.0f} s (load average {load})")
    assert len(runs) == len(pages) * len(PRESETS)
    problems = [problem for run in runs.values() for problem in below_bar(run)]
    assert not problems, "below the bar:\n" + "\n".join(problems)
