"""CLI rebuilds of a big site, two checkouts alternated: CPU seconds and peak memory.

    .venv/bin/python bench/cli_edits.py --site SITE [--baseline DIR --baseline-site SITE2]
                                        [--rounds 3] [--kind body|title]

``SITE`` is a copy of a corpus built once by this checkout (``build.py --config
SITE/site.toml --out SITE/out``: at 20000 pages that cold build takes minutes); the
baseline's ``SITE2`` another copy built by ``DIR`` (``git worktree add /tmp/base main``), as
the cache file is keyed by code. Each round, for this checkout then the baseline: a paragraph
appended to one blog post (``--kind title``: a word added to its title, which plans the site
afresh) and ``build.py`` run; then, 2.5 s later (a build trusts only files settled for 2 s),
a build with nothing changed. Each build's CPU seconds (user + system of the build and its
worker processes, as ``os.wait4`` gives them), its largest process's peak memory, and its report
line are printed as they come, then the medians. Both sites get the same edits, so their
output folders can be compared with ``diff -r`` afterwards.

Set ``LAUNCHKIT_IMAGE_CACHE`` to the image cache the sites were built with.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make `bench` importable

from bench.build_bench import Run, run_child  # noqa: E402


def build(code: Path, site: Path) -> Run:
    """One ``build.py`` run of ``code`` on ``site`` (:func:`.build_bench.run_child`)."""
    command = [sys.executable, str(code / "build.py")]
    command += ["--config", str(site / "site.toml"), "--out", str(site / "out")]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user runs it: bytecode cached
    return run_child(command, Path.cwd(), env)


def edit(site: Path, kind: str, step: int) -> None:
    post = sorted((site / "content" / "blog").glob("*.md"))[5]
    text = post.read_text(encoding="utf-8")
    if kind == "title":
        text = re.sub(r"^title: (\"?)", rf"title: \g<1>W{step} ", text, count=1, flags=re.M)
    else:
        text += f"\n\nAn added paragraph {step}.\n"
    post.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, required=True, help="a copy built by this checkout")
    parser.add_argument("--baseline", type=Path, help="another checkout, run alternately")
    parser.add_argument("--baseline-site", type=Path, help="a copy built by the baseline")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kind", choices=("body", "title"), default="body")
    args = parser.parse_args()
    sides = {"this": (ROOT, args.site)}
    if args.baseline is not None:
        sides["baseline"] = (args.baseline, args.baseline_site)
    figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for step in range(args.rounds):
        for name, (code, site) in sides.items():
            edit(site, args.kind, step)
            time.sleep(2.5)
            for what in (args.kind, "no change"):
                run = build(code, site)
                cpu, peak = run.cpu_seconds, run.peak_mib
                figures.setdefault((name, what), []).append((cpu, peak))
                print(
                    f"{name:8} {what:9} {cpu:6.2f} CPU s {peak:6.0f} MiB | {run.summary}",
                    flush=True,
                )
                time.sleep(2.5)
    print(f"load average {os.getloadavg()[0]:.1f}; medians:")
    for (name, what), runs in figures.items():
        cpu = statistics.median(run[0] for run in runs)
        peak = max(run[1] for run in runs)
        print(f"{name:8} {what:9} {cpu:6.2f} CPU s (of {len(runs)}), peak {peak:.0f} MiB")


if __name__ == "__main__":
    main()
