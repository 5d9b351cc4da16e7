"""Build benchmark: launchkit against the Python-Markdown floor and, optionally, the anchors.

    .venv/bin/python bench/build_bench.py --pages 2000 [--anchors] [--repeat 3]

Generates a deterministic corpus (bench/corpus.py) in a temporary folder and prints one
table: the floor (plain ``markdown.markdown`` over the same bodies, one process), then
``build.py``'s cold build (with the default start method of worker processes and with
spawn), no-change rebuild, one-page-edit rebuild and template-edit rebuild, each the median
of ``--repeat`` runs of the CLI as a subprocess (wall seconds around the child), with
pages/s, ratios, peak memory (max RSS) and the targets of issue 9 (those of its 20000-page
scale run from ``--pages 20000`` on). ``--anchors`` adds Pelican and MkDocs from the venv of
``requirements-bench.txt`` (see bench/README.md) and Hugo when ``hugo`` is on PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import markdown

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make `bench` and `launchkit` importable

from bench.corpus import (  # noqa: E402
    Corpus,
    export_hugo,
    export_mkdocs,
    export_pelican,
    generate_corpus,
    split_front_matter,
)
from bench.disk import describe_disk  # noqa: E402
from launchkit.site.workers import START_METHOD_ENV  # noqa: E402

BUILD_PY = ROOT / "build.py"
# A fixed, documented place (bench/README.md), kept out of the project venv; not a temp file.
DEFAULT_ANCHOR_VENV = Path(os.environ.get("BENCH_VENV", "/tmp/bench-venv"))  # noqa: S108
# Issue 4's floor; the second floor is launchkit's own extension set (smarty costs more).
FLOOR_EXTENSIONS = ["extra", "toc"]
OUR_EXTENSIONS = ["extra", "toc", "smarty", "sane_lists"]

# Issue 9's targets at 2000 pages on 2 cores, and at its scale run (SCALE_PAGES and more).
COLD_VS_FLOOR = 0.5
# "template" appends a Jinja comment to the posts' template (issue 9's edit): its compiled code
# is the same, so no page is made again; "template, output" changes what every post shows.
REBUILD_VS_COLD = {
    "no-change": 0.05,
    "page edit": 0.06,
    "template": 0.12,
    "template, output": 0.12,
}
SCALE_PAGES = 20000
# At scale, the cold build stays linear: at most this many times the BASE_PAGES one (same run).
BASE_PAGES = 2000
SCALE_COLD_VS_BASE = 11.0
SCALE_REBUILD_VS_COLD = {"no-change": 0.02, "page edit": 0.025}
SPAWN_VS_DEFAULT = 1.15  # the cold build with spawn within 15 % of the default
ANCHOR_VS_COLD = 2.0  # issue 4: Pelican's and MkDocs' cold builds take at least twice ours
PEAK_MIB = 150
SCALE_PEAK_MIB = 400


class BenchError(Exception):
    """A build under measurement failed; the message carries its output."""


@dataclass(frozen=True)
class Run:
    seconds: float  # wall time
    cpu_seconds: float  # user + system, of the child and its workers
    peak_mib: float
    images: int | None = None  # images the build encoded, from its summary line
    summary: str = ""  # its summary line ("Built 2000 pages (…) in 0.45 s -> public/")


@dataclass(frozen=True)
class Figure:
    """The median times and the highest peak memory of repeated runs of one step.

    CPU seconds are printed beside wall seconds because they barely move when other work
    shares the machine, while wall seconds do; targets are judged on wall seconds.
    """

    seconds: float
    cpu_seconds: float
    peak_mib: float | None = None
    images: int | None = None  # the most images any run encoded

    @classmethod
    def of(cls, runs: list[Run]) -> Figure:
        encoded = [r.images for r in runs if r.images is not None]
        return cls(
            statistics.median(r.seconds for r in runs),
            statistics.median(r.cpu_seconds for r in runs),
            max(r.peak_mib for r in runs),
            max(encoded) if encoded else None,
        )


@dataclass(frozen=True)
class Row:
    label: str
    figure: Figure | None  # None: the tool is not there, `note` says why
    ratio: str = ""
    target: str = ""
    verdict: str = ""
    note: str = ""
    pages: int | None = None  # its corpus, when not the run's


# --- running and measuring -----------------------------------------------------------------


def run_child(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run one command to completion; its wall time and the max RSS of its largest process.

    ``os.wait4`` gives the rusage of this child alone (with its own waited-for children), so
    runs do not blur into each other the way ``RUSAGE_CHILDREN`` of this process would.
    """
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        tail = output.read().decode(errors="replace")[-3000:]
        if child.returncode != 0:
            raise BenchError(f"{' '.join(command)} exited {child.returncode}:\n{tail}")
    cpu_seconds = usage.ru_utime + usage.ru_stime
    summary = (_SUMMARY.findall(tail) or [""])[-1]
    encoded = _IMAGES_ENCODED.search(summary)
    images = int(encoded[1]) if encoded else None
    return Run(seconds, cpu_seconds, usage.ru_maxrss / 1024, images, summary)  # maxrss: KiB


# build.py's summary line: "Built 2000 pages (…), 2400 files (0 images encoded) in 0.45 s".
_SUMMARY = re.compile(r"^Built .*$", re.MULTILINE)
_IMAGES_ENCODED = re.compile(r"\((\d+) images encoded\)")


def measure_floor(corpus: Corpus, repeat: int, extensions: list[str]) -> Figure:
    """Plain ``markdown.markdown`` over every body, front matter stripped, in this process.

    Reading the files is left out: the floor is the Markdown conversion any builder pays.
    """
    bodies = [split_front_matter(page.read_text(encoding="utf-8"))[1] for page in corpus.pages]
    runs = []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        for body in bodies:
            markdown.markdown(body, extensions=extensions)
        runs.append((time.perf_counter() - started, time.process_time() - cpu_started))
    return Figure(statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))


def build_flags() -> set[str]:
    """The options today's ``build.py --help`` offers (so the bench predates and outlives them)."""
    result = subprocess.run(
        [sys.executable, str(BUILD_PY), "--help"], capture_output=True, text=True, check=True
    )
    return {word.strip("[],") for word in result.stdout.split() if word.startswith(("--", "[--"))}


def measure_launchkit(corpus: Corpus, work: Path, repeat: int) -> dict[str, Figure]:
    """Cold builds, then three kinds of rebuild into the same output, ``repeat`` times each.

    "cold + images" starts without the image cache too (every variant and social card is
    encoded); "cold" is ``--clean``, which keeps that content-addressed cache, so that it
    stays comparable with the Markdown floor and the anchors, which encode no images.
    """
    flags = build_flags()
    out = work / "public"
    build = [sys.executable, str(BUILD_PY), "--config", str(corpus.config), "--out", str(out)]
    cold = build + (["--clean"] if "--clean" in flags else [])
    template = _blog_template(corpus)
    steps: dict[str, list[Run]] = {
        "cold + images": [],
        "cold": [],
        "cold, spawn": [],
        "no-change": [],
        "page edit": [],
        "template": [],
        "template, output": [],
    }
    spawn_env = {**os.environ, START_METHOD_ENV: "spawn"}
    for attempt in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(corpus.root / ".cache" / "images", ignore_errors=True)
        steps["cold + images"].append(run_child(cold, corpus.root))
        shutil.rmtree(out, ignore_errors=True)
        steps["cold, spawn"].append(run_child(cold, corpus.root, spawn_env))
        shutil.rmtree(out, ignore_errors=True)
        steps["cold"].append(run_child(cold, corpus.root))
        steps["no-change"].append(run_child(build, corpus.root))
        _append(corpus.first_post, f"\nOne more paragraph, edit {attempt}.\n")
        steps["page edit"].append(run_child(build, corpus.root))
        _append(template, f"\n{{# benchmark edit {attempt} #}}\n")
        steps["template"].append(run_child(build, corpus.root))
        _mark_content(template, f"edit {attempt}")
        steps["template, output"].append(run_child(build, corpus.root))
    return {step: Figure.of(runs) for step, runs in steps.items()}


def measure_cold(corpus: Corpus, work: Path, repeat: int) -> Figure:
    """The cold build alone (``--clean``, image cache kept: a first build fills it)."""
    out = work / "public"
    build = [sys.executable, str(BUILD_PY), "--config", str(corpus.config), "--out", str(out)]
    run_child(build, corpus.root)  # encodes the images; not measured
    runs = []
    for _ in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        runs.append(run_child([*build, "--clean"], corpus.root))
    return Figure.of(runs)


def scale_row(cold: Figure, base: Figure) -> Row:
    """The scale run's cold build against the BASE_PAGES one of the same run."""
    ratio = cold.seconds / base.seconds
    return Row(
        f"launchkit cold build, {BASE_PAGES} pages",
        base,
        f"ours cold = {ratio:.1f} x this",
        f"<= {SCALE_COLD_VS_BASE:g} x",
        verdict(ratio <= SCALE_COLD_VS_BASE),
        pages=BASE_PAGES,
    )


def _blog_template(corpus: Corpus) -> Path:
    """The template blog posts render with (``post.html``), or the base layout they extend."""
    post = corpus.root / "templates" / "post.html"
    return post if post.exists() else corpus.root / "templates" / "base.html"


def _mark_content(template: Path, text: str) -> None:
    """Put an HTML comment at the start of the template's content block: every page of it
    changes (appended after the last block, text in a child template shows nowhere)."""
    source = template.read_text(encoding="utf-8")
    block = "{% block content %}"
    marked = source.replace(block, f"{block}<!-- {text} -->", 1)
    template.write_text(marked if block in source else f"{source}<!-- {text} -->\n", "utf-8")


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


def measure_anchor(
    cold: list[str], rebuild: list[str], site: Path, leftovers: tuple[Path, ...], repeat: int
) -> tuple[Figure, Figure]:
    """An anchor tool's cold build (its output and cache folders gone) and a rebuild after it."""
    cold_runs, rebuild_runs = [], []
    for _ in range(repeat):
        for leftover in leftovers:
            shutil.rmtree(leftover, ignore_errors=True)
        cold_runs.append(run_child(cold, site))
        rebuild_runs.append(run_child(rebuild, site))
    return Figure.of(cold_runs), Figure.of(rebuild_runs)


def pelican_figures(corpus: Corpus, work: Path, venv: Path, repeat: int) -> tuple[Figure, Figure]:
    site = export_pelican(corpus, work / "pelican")
    pelican = str(venv / "bin" / "pelican")
    command = [pelican, "content", "-s", "pelicanconf.py", "-o", "output", "-q"]
    return measure_anchor(command, command, site, (site / "output", site / "cache"), repeat)


def mkdocs_figures(corpus: Corpus, work: Path, venv: Path, repeat: int) -> tuple[Figure, Figure]:
    site = export_mkdocs(corpus, work / "mkdocs")
    command = [str(venv / "bin" / "mkdocs"), "build", "-q"]
    cold, dirty = [*command, "--clean"], [*command, "--dirty"]
    return measure_anchor(cold, dirty, site, (site / "site",), repeat)


def hugo_figures(corpus: Corpus, work: Path, hugo: str, repeat: int) -> tuple[Figure, Figure]:
    site = export_hugo(corpus, work / "hugo")
    command = [hugo, "--quiet", "--destination", "public"]
    return measure_anchor(command, command, site, (site / "public",), repeat)


# --- the table -----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def launchkit_rows(
    floor: Figure, own_floor: Figure, ours: dict[str, Figure], pages: int
) -> list[Row]:
    """Our rows; the cold build is judged against issue 4's floor, the stricter of the two."""
    cold = ours["cold"]
    spawn = ours["cold, spawn"]
    rows = [
        Row(
            "launchkit cold build",
            cold,
            f"{cold.seconds / floor.seconds:.2f} x floor",
            f"<= {COLD_VS_FLOOR} x floor",
            verdict(cold.seconds <= COLD_VS_FLOOR * floor.seconds),
        ),
        Row("  (against our-extensions floor)", cold, f"{cold.seconds / own_floor.seconds:.2f} x"),
        Row(
            "launchkit cold build, spawn",
            spawn,
            f"{spawn.seconds / cold.seconds:.2f} x default",
            f"<= {SPAWN_VS_DEFAULT} x default",
            verdict(spawn.seconds <= SPAWN_VS_DEFAULT * cold.seconds),
        ),
        _images_row("launchkit cold build + images", ours["cold + images"], cold),
    ]
    targets = SCALE_REBUILD_VS_COLD if pages >= SCALE_PAGES else REBUILD_VS_COLD
    for step in ("no-change", "page edit", "template", "template, output"):
        figure = ours[step]
        share = figure.seconds / cold.seconds
        label = f"launchkit {step} rebuild"
        if step not in targets:
            rows.append(Row(label, figure, f"{share:.1%} of cold", "(no target at this size)"))
            continue
        target = targets[step]
        rows.append(
            Row(
                label,
                figure,
                f"{share:.1%} of cold",
                f"<= {target:.1%} of cold",
                verdict(share <= target),
            )
        )
    return rows


def anchor_rows(
    name: str, figures: tuple[Figure, Figure], ours: dict[str, Figure], *, speed_bar: str
) -> list[Row]:
    """Cold and rebuild rows of one anchor; a ratio above 1 means the anchor is slower.

    ``speed_bar`` says which of its figures issue 4 sets a target against: its ``"cold"``
    build (Pelican, MkDocs: ours at least twice as fast) or its ``"rebuild"`` (Hugo: our
    rebuilds faster than any Hugo build).
    """
    cold, rebuild = figures
    cold_label, rebuild_label = f"{name} cold build", f"{name} rebuild (cache/dirty)"
    if not ours:
        return [Row(cold_label, cold), Row(rebuild_label, rebuild)]
    cold_ratio = cold.seconds / ours["cold"].seconds
    rebuild_ratio = rebuild.seconds / ours["no-change"].seconds
    if speed_bar == "cold":
        target, ok = f">= {ANCHOR_VS_COLD} x ours", cold_ratio >= ANCHOR_VS_COLD
        return [
            Row(cold_label, cold, f"{cold_ratio:.2f} x ours cold", target, verdict(ok)),
            Row(rebuild_label, rebuild, f"{rebuild_ratio:.2f} x ours no-change"),
        ]
    # Hugo: every rebuild of ours is faster; MkDocs --dirty (scale run): the no-change and
    # one-page-edit rebuilds. Judged on the slowest of them.
    steps = ("no-change", "page edit", "template") if name == "Hugo" else ("no-change", "page edit")
    slowest = max(ours[step].seconds for step in steps)
    ratio = rebuild.seconds / slowest
    return [
        Row(cold_label, cold, f"{cold_ratio:.2f} x ours cold"),
        Row(
            rebuild_label, rebuild, f"{ratio:.2f} x our slowest rebuild", "> 1", verdict(ratio > 1)
        ),
    ]


def _images_row(label: str, figure: Figure, cold: Figure) -> Row:
    """The cold build that also encodes every image variant and social card."""
    ratio = f"{figure.seconds / cold.seconds:.2f} x cold"
    return Row(label, figure, ratio, f"{figure.images} images encoded")


def print_images(rows: list[Row]) -> None:
    """How many images each of our steps encoded (the most of its runs): a no-change
    rebuild must encode none again."""
    counts = {
        row.label.removeprefix("launchkit "): row.figure.images
        for row in rows
        if row.label.startswith("launchkit") and row.figure and row.figure.images is not None
    }
    if counts:
        listed = ", ".join(f"{step} {count}" for step, count in counts.items())
        none_again = verdict(counts.get("no-change rebuild") == 0)
        print(f"\nimages encoded: {listed}\nno-change rebuild encodes no image: {none_again}")


def print_table(pages: int, rows: list[Row]) -> None:
    header = (
        f"{'step':<36} {'seconds':>8} {'cpu s':>7} {'pages/s':>8} {'peak MiB':>9}  "
        f"{'ratio':<22} target"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        if row.figure is None:
            print(f"{row.label:<36} {row.note}")
            continue
        peak = f"{row.figure.peak_mib:.0f}" if row.figure.peak_mib is not None else "-"
        print(
            f"{row.label:<36} {row.figure.seconds:>8.2f} {row.figure.cpu_seconds:>7.2f} "
            f"{(row.pages or pages) / row.figure.seconds:>8.0f} {peak:>9}  {row.ratio:<22} "
            f"{row.target} {row.verdict}".rstrip()
        )


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="corpus size (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; medians reported")
    parser.add_argument("--anchors", action="store_true", help="also build with Pelican, MkDocs")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument(
        "--venv",
        type=Path,
        default=DEFAULT_ANCHOR_VENV,
        help="venv holding requirements-bench.txt (default $BENCH_VENV or /tmp/bench-venv)",
    )
    parser.add_argument("--keep", type=Path, help="work in this new folder and keep it")
    return parser.parse_args(argv)


def benchmark(args: argparse.Namespace, work: Path) -> list[Row]:
    started = time.perf_counter()
    corpus = generate_corpus(work / "site", args.pages, seed=args.seed)
    print(f"corpus: {args.pages} pages in {time.perf_counter() - started:.1f} s at {corpus.root}")
    floor = measure_floor(corpus, args.repeat, FLOOR_EXTENSIONS)
    own_floor = measure_floor(corpus, args.repeat, OUR_EXTENSIONS)
    rows = [
        Row("Python-Markdown floor (extra+toc)", floor, "1.00 x floor"),
        Row("  same, our extensions (+smarty...)", own_floor, "-"),
    ]
    ours: dict[str, Figure] = {}
    if BUILD_PY.exists():
        ours = measure_launchkit(corpus, work, args.repeat)
        rows += launchkit_rows(floor, own_floor, ours, args.pages)
        if args.pages >= SCALE_PAGES:  # linear: against a small corpus, in the same run
            base = generate_corpus(work / "base" / "site", BASE_PAGES, seed=args.seed)
            rows.append(scale_row(ours["cold"], measure_cold(base, work / "base", args.repeat)))
    else:
        rows.append(Row("launchkit", None, note="build.py not found: nothing to measure"))
    if args.anchors:
        rows += _anchors(corpus, work, args, ours)
    return rows


def _anchors(
    corpus: Corpus, work: Path, args: argparse.Namespace, ours: dict[str, Figure]
) -> list[Row]:
    rows: list[Row] = []
    tools: list[tuple[str, str | None, Callable[..., tuple[Figure, Figure]]]] = [
        ("Pelican", _venv_tool(args.venv, "pelican"), pelican_figures),
        ("MkDocs", _venv_tool(args.venv, "mkdocs"), mkdocs_figures),
    ]
    for name, executable, measure in tools:
        if executable is None:
            note = f"not installed in {args.venv} (see bench/README.md)"
            rows.append(Row(name, None, note=note))
        else:
            figures = measure(corpus, work, args.venv, args.repeat)
            bar = "rebuild" if name == "MkDocs" and args.pages >= SCALE_PAGES else "cold"
            rows += anchor_rows(name, figures, ours, speed_bar=bar)
    hugo = shutil.which("hugo")
    if hugo is None:
        rows.append(Row("Hugo", None, note="not installed"))
    else:
        figures = hugo_figures(corpus, work, hugo, args.repeat)
        rows += anchor_rows("Hugo", figures, ours, speed_bar="rebuild")
    return rows


def _venv_tool(venv: Path, name: str) -> str | None:
    executable = venv / "bin" / name
    return str(executable) if executable.exists() else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.keep and args.keep.exists():
        print(f"error: --keep {args.keep} already exists; name a new folder", file=sys.stderr)
        return 2
    if args.keep:
        args.keep.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="launchkit-bench-") as temporary:
        work = args.keep or Path(temporary)
        disk = describe_disk(work)
        try:
            rows = benchmark(args, work)
        except BenchError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    print(f"\n{args.pages} pages, median of {args.repeat} runs, {os.cpu_count()} cores")
    print(f"files on: {disk}")
    print_table(args.pages, rows)
    print_images(rows)
    print_peak_memory(rows, args.pages)
    return 0


def print_peak_memory(rows: list[Row], pages: int) -> None:
    """The highest max RSS of any launchkit run against the target."""
    peaks = [r.figure.peak_mib for r in rows if r.label.startswith("launchkit") and r.figure]
    if peaks:
        peak = max(p for p in peaks if p is not None)
        limit = SCALE_PEAK_MIB if pages >= SCALE_PAGES else PEAK_MIB
        target = f"target <= {limit} MiB {verdict(peak <= limit)}"
        print(f"\nlaunchkit peak memory (largest process): {peak:.0f} MiB, {target}")


if __name__ == "__main__":
    sys.exit(main())
