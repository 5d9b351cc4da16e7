"""Where a build's time goes: each pipeline step's wall and CPU seconds, parent and workers.

    .venv/bin/python bench/build_stages.py --pages 2000 [--repeat 3] [--baseline DIR]
                                           [--edit template-output]

Generates the bench corpus (bench/corpus.py), fills the image cache once, then runs
``build.py --clean`` ``--repeat`` times in a child process that times the steps of
:class:`launchkit.site.builder._Build` and the cache and writer calls around them. Prints,
per step, when it started and its wall seconds (medians), the parent's CPU seconds and its
worker processes' (the rusage of those ended, and on Linux what running ones used so far:
with spawn and forkserver a build's workers serve all its steps); a step run inside
another (the staging of files while documents render) counts in both. ``--baseline``
names another checkout (``git worktree add /tmp/base main``) whose code runs alternately
with this one on the same corpus, so both tables come from the same machine state: on a
busy machine compare CPU seconds; wall seconds move with the load. Under each table, "parent
alone" is the parent's CPU outside the steps that run worker processes: the serial part, as
long as the other cores idle on a quiet machine, which a loaded one cannot show in wall time.

After cold builds it prints where their CPU goes against issue 9's target: the Python-Markdown
floor (build_bench's, extra+toc, one process) and this checkout's own Markdown renderer over
the same bodies, both timed here once, and each checkout's whole-build CPU split into that
Markdown and the rest, with the best cold build those seconds allow on this machine's cores
(all of them busy from start to end) as a multiple of the floor.

``--edit template-output`` times, instead of cold builds, the rebuild after build_bench's
"template, output" edit (a comment at the start of the posts' content block, new each time:
every post changes), each checkout on its own copy of the corpus (the cache is keyed by code).
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import resource
import runpy
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (module, class, method) timed in the child; a name a checkout lacks is skipped.
TIMED = (
    [
        ("launchkit.site.builder", "_Build", name)
        for name in (
            "read_pages",
            "renderer",
            "plan_site",
            "write_documents",
            "stage_files",
            "check_links",
        )
    ]
    + [
        ("launchkit.site.cache", "BuildCache", name)
        for name in ("identities", "stale_documents", "remember_documents", "save")
    ]
    + [("launchkit.site.publish", "SiteWriter", "commit")]
)

# The steps that run worker processes (a cold build's, with the image cache filled): outside
# them only the parent works, and on a quiet machine every other core waits.
POOLED = ("_Build.read_pages", "_Build.write_documents")


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _workers_cpu() -> float:
    """CPU seconds of this process's children: those ended, and (Linux) those still running,
    as the worker processes of a build outlive its steps (they end with the build)."""
    return _cpu(resource.RUSAGE_CHILDREN) + sum(
        _running_cpu(child) for child in multiprocessing.active_children()
    )


def _running_cpu(process: multiprocessing.process.BaseProcess) -> float:
    """A running child's user and system seconds so far (0 where /proc is not)."""
    try:
        stat = Path(f"/proc/{process.pid}/stat").read_text()
    except OSError:  # ended meanwhile (then counted with the ended ones), or no /proc
        return 0.0
    fields = stat.rpartition(")")[2].split()  # from the state on: utime, stime at 11, 12
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child(checkout: Path, build_args: list[str]) -> None:
    """Run ``checkout``'s build.py here with its steps timed; print the timings as JSON."""
    sys.path.insert(0, str(checkout))
    import importlib

    started = time.perf_counter()
    rows: list[tuple[str, float, float, float, float]] = []

    def timed(function, label):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            wall = time.perf_counter()
            cpu, workers = _cpu(resource.RUSAGE_SELF), _workers_cpu()
            try:
                return function(*args, **kwargs)
            finally:
                rows.append(
                    (
                        label,
                        wall - started,
                        time.perf_counter() - wall,
                        _cpu(resource.RUSAGE_SELF) - cpu,
                        _workers_cpu() - workers,
                    )
                )

        return wrapper

    for module_name, class_name, name in TIMED:
        cls = getattr(importlib.import_module(module_name), class_name)
        if hasattr(cls, name):
            setattr(cls, name, timed(getattr(cls, name), f"{class_name}.{name}"))
    sys.argv = [str(checkout / "build.py"), *build_args]
    try:
        runpy.run_path(str(checkout / "build.py"), run_name="__main__")
    except SystemExit as exc:
        if exc.code:
            raise
    total = (
        "whole build",
        0.0,
        time.perf_counter() - started,
        _cpu(resource.RUSAGE_SELF),
        _cpu(resource.RUSAGE_CHILDREN),
    )
    print(json.dumps([*rows, total]))


def run_once(checkout: Path, site: Path, out: Path, *, clean: bool = True) -> list[list]:
    """One build in a child process, timed: cold (``clean``), else a rebuild into ``out``."""
    if clean:
        shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, __file__, "--child", str(checkout), "--"]
    command += ["--config", str(site / "site.toml"), "--out", str(out)]
    command += ["--clean"] if clean else []
    result = subprocess.run(command, cwd=site, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def edit_posts_template(site: Path) -> None:
    """build_bench's "template, output" edit: a new comment where the posts' content begins."""
    template = site / "templates" / "post.html"
    block = "{% block content %}"
    source = template.read_text(encoding="utf-8")
    marked = source.replace(block, f"{block}<!-- edit {time.time_ns()} -->", 1)
    template.write_text(marked, encoding="utf-8")


def template_edit_runs(checkouts: dict[str, Path], site: Path, work: Path, repeat: int) -> dict:
    """Each checkout's rebuilds after the edit, on its own copy of ``site`` (a first edit,
    untimed, makes its cache its own: the cache is keyed by code)."""
    copies = {}
    for number, (name, checkout) in enumerate(checkouts.items()):
        copies[name] = (work / f"site-{number}", work / f"public-{number}")
        shutil.copytree(site, copies[name][0], symlinks=True)
        run_once(checkout, copies[name][0], copies[name][1])
        edit_posts_template(copies[name][0])
        run_once(checkout, *copies[name], clean=False)
    runs: dict[str, list] = {name: [] for name in checkouts}
    for _ in range(repeat):
        for name, checkout in checkouts.items():
            edit_posts_template(copies[name][0])
            runs[name].append(run_once(checkout, *copies[name], clean=False))
    return runs


def print_table(name: str, runs: list[list[list]], what: str) -> None:
    """Medians over runs of each step's start, wall, parent CPU and workers' CPU."""
    by_step: dict[str, list[list[float]]] = {}
    for run in runs:
        summed: dict[str, list[float]] = {}
        for label, start, wall, cpu, workers in run:
            if label in summed:  # a step called twice: its times add up
                previous = summed[label]
                summed[label] = [previous[0], previous[1] + wall, previous[2] + cpu,
                                 previous[3] + workers]  # fmt: skip
            else:
                summed[label] = [start, wall, cpu, workers]
        for label, values in summed.items():
            by_step.setdefault(label, []).append(values)
    print(f"\n{name}: medians of {len(runs)} {what}")
    print(f"{'step':34s} {'start s':>8s} {'wall s':>8s} {'parent CPU':>11s} {'workers CPU':>12s}")
    ordered = sorted(by_step.items(), key=lambda item: (item[0] == "whole build", item[1][0][0]))
    for label, values in ordered:
        medians = [statistics.median(column) for column in zip(*values, strict=True)]
        print(f"{label:34s} {medians[0]:8.2f} {medians[1]:8.2f} {medians[2]:11.2f} "
              f"{medians[3]:12.2f}")  # fmt: skip
    alone = statistics.median(parent_alone(run) for run in runs)
    print(f"parent alone: {alone:.2f} CPU s outside {', '.join(POOLED)} (the serial part: "
          f"on a quiet machine, the other cores idle that long)")  # fmt: skip


def parent_alone(run: list[list]) -> float:
    """The parent's CPU seconds outside the :data:`POOLED` steps of one run."""
    return run[-1][3] - sum(row[3] for row in run if row[0] in POOLED)


def renderer_cpu(bodies: list[str]) -> float:
    """CPU seconds of this checkout's Markdown renderer over ``bodies``, in this process:
    the part of a cold build that no other change to the build can take away."""
    from launchkit.site.markup import MarkdownRenderer

    renderer = MarkdownRenderer()
    started = time.process_time()
    for number, body in enumerate(bodies):
        renderer.render(body, source=f"body {number}", first_line=1)
    return time.process_time() - started


def print_markdown_share(floor_cpu: float, markdown_cpu: float, runs: dict[str, list]) -> None:
    """Each checkout's whole-build CPU (medians) as Markdown and the rest, and the best cold
    build it allows on this machine's cores, against the floor and issue 9's target."""
    from bench.build_bench import COLD_VS_FLOOR

    cores = os.cpu_count() or 1
    share = markdown_cpu / floor_cpu
    print(f"\nMarkdown in one process: the floor (extra+toc) {floor_cpu:.2f} CPU s; this "
          f"checkout's renderer {markdown_cpu:.2f} CPU s = {share:.2f} x floor")  # fmt: skip
    for name, name_runs in runs.items():
        whole = statistics.median(run[-1][3] + run[-1][4] for run in name_runs)  # parent + workers
        best = whole / cores
        print(f"{name}: {whole:.2f} CPU s = Markdown {markdown_cpu:.2f} + the rest "
              f"{whole - markdown_cpu:.2f}; on {cores} cores at best {best:.2f} s = "
              f"{best / floor_cpu:.2f} x floor (target <= {COLD_VS_FLOOR} x)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="corpus size (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="cold builds per checkout")
    parser.add_argument("--baseline", type=Path, help="another checkout, run alternately")
    parser.add_argument(
        "--edit",
        choices=["template-output"],
        help="time the rebuild after this edit instead of cold builds",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("build_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.build_args)
        return 0
    sys.path.insert(0, str(ROOT))
    from bench.build_bench import FLOOR_EXTENSIONS, measure_floor
    from bench.corpus import generate_corpus, split_front_matter
    from bench.disk import describe_disk

    checkouts = {"this checkout": ROOT}
    if args.baseline is not None:
        checkouts["baseline"] = args.baseline.resolve()
    with tempfile.TemporaryDirectory() as work:
        print(f"files on: {describe_disk(Path(work))}")
        corpus = generate_corpus(Path(work) / "site", args.pages)
        site = corpus.root
        build = [sys.executable, str(ROOT / "build.py"), "--out", str(Path(work) / "public")]
        subprocess.run(build, cwd=site, capture_output=True, check=True)  # fills the image cache
        if args.edit:
            runs = template_edit_runs(checkouts, site, Path(work), args.repeat)
            what = "rebuilds after a template edit that changes every post"
        else:
            runs = {name: [] for name in checkouts}
            for _ in range(args.repeat):
                for name, checkout in checkouts.items():
                    runs[name].append(run_once(checkout, site, Path(work) / "public"))
            what = "cold builds (--clean, image cache kept)"
            floor_cpu = measure_floor(corpus, 1, FLOOR_EXTENSIONS).cpu_seconds
            bodies = [
                split_front_matter(page.read_text(encoding="utf-8"))[1] for page in corpus.pages
            ]
            markdown_cpu = renderer_cpu(bodies)
    for name, checkout in checkouts.items():
        print_table(f"{name} ({checkout})", runs[name], what)
    if not args.edit:
        print_markdown_share(floor_cpu, markdown_cpu, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
