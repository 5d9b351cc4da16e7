"""The fixed costs of a build: CPU milliseconds of a clean build and of a one-page rebuild
of the random-edit test's 11-page site (tests/test_random_edits.py ``small_site``).

    .venv/bin/python bench/small_site.py [--baseline DIR] [--rounds 3]

Each checkout runs in a process of its own that first imports the libraries as the test's
build processes have (tests/build_helper.py ``preload``), then times 5 batches of 8 clean
builds (a fresh BuildContext each, as the test's clean process makes) and 5 batches of 8
one-page rebuilds (one context, the changed path named, as the preview), each followed by
the test's hashing of the output, and prints the best batch's mean. ``--baseline`` names
another checkout (``git worktree add /tmp/base main``) run alternately with this one,
``--rounds`` times: on a busy machine, compare the two sides of one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="another checkout, run alternately")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(args.child)
        return
    sides = [("this", HERE)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    for _ in range(args.rounds):
        for name, root in sides:
            line = subprocess.run(
                [sys.executable, __file__, "--child", str(root)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            print(f"{name:8s} {root}: {line}", flush=True)


def measure(root: Path) -> None:
    """Time the builds of the checkout at ``root`` (in this process: see the module text)."""
    sys.path[:0] = [str(root), str(root / "tests")]
    import build_helper

    build_helper.preload()
    from test_random_edits import small_site

    work = Path(tempfile.mkdtemp(prefix="small-site-"))
    try:
        os.chdir(small_site(work / "site").root)
        from launchkit.config import load_config
        from launchkit.site.builder import build_site
        from launchkit.site.context import BuildContext

        code = BuildContext().code()
        linked: dict = {}

        def clean(number: int) -> None:
            out = work / f"clean{number}"
            config = load_config("site.toml")
            build_site(config, out, clean=True, context=BuildContext(codebase=code))
            build_helper.digests(out, linked)

        kept = BuildContext(codebase=code)
        build_site(load_config("site.toml"), Path("public"), context=kept)
        page = sorted(Path("content").rglob("*.md"))[3]

        def rebuild(number: int) -> None:
            page.write_text(page.read_text(encoding="utf-8") + f"\nA paragraph w{number}.\n")
            config = load_config("site.toml")
            build_site(config, Path("public"), context=kept, changed=[str(page.resolve())])
            build_helper.digests(Path("public"), linked)

        found = {name: best_of(build) for name, build in (("clean", clean), ("rebuild", rebuild))}
        clean_ms, rebuild_ms = found["clean"], found["rebuild"]
        print(f"clean build {clean_ms:.1f} ms, one-page rebuild {rebuild_ms:.1f} ms CPU")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def best_of(build, batches: int = 5, size: int = 8) -> float:
    """The best batch's CPU milliseconds per build, after two builds to warm up."""
    build(-1)
    build(-2)
    means = []
    for batch in range(batches):
        started = time.process_time()
        for number in range(size):
            build(batch * size + number)
        means.append((time.process_time() - started) / size * 1000)
    return min(means)


if __name__ == "__main__":
    main()
