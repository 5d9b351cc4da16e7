#!/usr/bin/env python3
"""Build the marketing site: ``python build.py [--out DIR] [--config FILE] [--drafts] [--future]``.

``--clean`` ignores the build cache, ``--strict`` makes broken internal links fail the build.
Every error found is listed; many warnings are summarised unless ``--verbose``.

``python build.py --serve [--port N]`` previews it instead, with live reload
(``launchkit.preview``).

A thin entry point: argument parsing and messages. The work is in ``launchkit.site.builder``;
each run makes one :class:`launchkit.site.context.BuildContext` and finds what it may reuse
in the cache file (``.cache/build/``), by the size and mtime of every source file.
"""

from __future__ import annotations

import argparse
import gc
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from launchkit.config import DEFAULT_CONFIG, load_config, site_root
from launchkit.errors import SiteError
from launchkit.site.regexes import kept_regex_programs
from launchkit.site.store import CACHE_FOLDER

if TYPE_CHECKING:
    from launchkit.site.builder import BuildReport

# Allocations between two collections of the youngest generation (Python's default: 700).
_GC_YOUNG_THRESHOLD = 70_000

# More warnings than this are summarised: the first few and a count (all with --verbose).
WARNINGS_SHOWN = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build the site from content/, templates/ and static/ into one folder."
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder; its changed files are replaced when the whole build succeeds "
        "(default: public/ beside the config file)",
    )
    parser.add_argument(
        "--config", type=Path, default=Path(DEFAULT_CONFIG), help="the site's config file"
    )
    parser.add_argument(
        "--drafts",
        action="store_true",
        help="include pages with 'draft: true' (marked, and kept out of search engines)",
    )
    parser.add_argument(
        "--future", action="store_true", help="include pages whose 'date' is still to come"
    )
    parser.add_argument(
        "--clean",
        action="store_true",
        help="ignore the build cache in .cache/ and render every page (the cache is rewritten); "
        "also remove files in the output folder that the build did not write",
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail on broken internal links (nothing published)"
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="preview on localhost: build into .cache/preview/, rebuild on changes, reload "
        "the open tabs, and answer the buy buttons (Stripe dry run, or test mode with a test key)",
    )
    parser.add_argument(
        "--port", type=_port, default=8000, help="the preview's port on 127.0.0.1 (default: 8000)"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="list every warning; show tracebacks of errors"
    )
    args = parser.parse_args(argv)
    if args.serve and args.out is not None:
        parser.error("--out does not go with --serve: the preview builds into .cache/preview/")
    return args


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def main(argv: list[str] | None = None) -> int:
    """Build, print a one-line summary or an error; the exit status for the shell."""
    args = parse_args(argv)
    if args.serve:
        return serve(args)
    _collect_garbage_seldom()
    # The cache folder as the build names it (config.root / CACHE_FOLDER), known before the
    # imports: they compile most of the patterns.
    regexes = site_root(args.config) / CACHE_FOLDER
    with kept_regex_programs(regexes, read=not args.clean):
        try:
            report, out = _build(args)
        except SiteError as exc:
            return _fail(str(exc), args.verbose)
        except OSError as exc:  # a disk full or a folder without write permission
            return _fail(f"error: {exc}", args.verbose)
        except Exception as exc:  # a bug in launchkit; the message is still one line
            return _fail(f"internal error: {exc!r} (run with --verbose for details)", args.verbose)
    from launchkit.site.content import display_path

    _print_summarised([str(warning) for warning in report.warnings], "warnings", args.verbose)
    _print_summarised([f"note: {note}" for note in report.notes], "notes", args.verbose)
    print(
        f"Built {report.pages} pages ({report.rendered} rendered, {report.from_cache} from "
        f"cache), {report.files} files ({report.images_processed} images encoded) in "
        f"{report.seconds:.2f} s -> {display_path(out)}/"
    )
    return 0


def _build(args: argparse.Namespace) -> tuple[BuildReport, Path]:
    """Build as ``args`` say: the report and the output folder."""
    # Imported once the collector is tuned: at Python's default thresholds it ran some 30
    # times while the builder was imported (15 ms, 2-3 % of a one-page rebuild).
    from launchkit.site.builder import build_site
    from launchkit.site.context import BuildContext

    gc.freeze()  # the modules' objects, never garbage: out of the collector's walks
    config = load_config(args.config)
    out = args.out if args.out is not None else config.root / "public"
    report = build_site(
        config,
        out,
        drafts=args.drafts,
        future=args.future,
        clean=args.clean,
        strict=args.strict,
        progress=sys.stderr.isatty(),
        context=BuildContext(one_build=True),  # what it reuses is on disk
    )
    return report, out


def _collect_garbage_seldom() -> None:
    """Tune the cyclic garbage collector for one build in a process that then exits.

    A build loads tens of thousands of long-lived cache entries; with the default
    thresholds the collector walked them (and the imported modules) again and again, a
    tenth of a no-change rebuild at 2000 pages. Its youngest generation is collected a
    hundred times less often (the caller freezes the modules out of its walks once
    imported); the older ones keep Python's ratios, so that the cycles page rendering leaves
    (in worker processes too, which inherit this) are still collected and memory stays as
    it was.
    """
    gc.set_threshold(_GC_YOUNG_THRESHOLD, 10, 10)


def serve(args: argparse.Namespace) -> int:
    """Run the live preview until Ctrl-C; build errors are shown, they do not stop it."""
    # Imported here: the server, watcher and Stripe libraries would slow every plain build.
    from launchkit.preview import start_preview
    from launchkit.site.content import display_path

    try:
        preview = start_preview(
            args.config, port=args.port, drafts=args.drafts, verbose=args.verbose
        )
    except SiteError as exc:
        return _fail(str(exc), args.verbose)
    # Ctrl-C may come as soon as the address is printed: the stop must follow it.
    try:
        print(f"Previewing at {preview.url} (checkout: {preview.mode.description})")
        print(
            f"Watching {display_path(args.config)} and the site's folders; Ctrl-C stops",
            flush=True,
        )
        preview.wait()
    except KeyboardInterrupt:
        pass
    finally:
        preview.stop()
    print("Stopped.")
    return 0


def _print_summarised(lines: Sequence[str], what: str, verbose: bool) -> None:
    """Print ``lines`` on stderr: all of them, or the first few and how many more."""
    shown = lines if verbose or len(lines) <= WARNINGS_SHOWN else lines[: WARNINGS_SHOWN // 2]
    for line in shown:
        print(line, file=sys.stderr)
    if len(shown) < len(lines):
        print(
            f"… and {len(lines) - len(shown)} more {what} ({len(lines)} in all; "
            "--verbose lists them all)",
            file=sys.stderr,
        )


def _fail(message: str, verbose: bool) -> int:
    if verbose:
        traceback.print_exc()
    print(message, file=sys.stderr)
    return 1


if __name__ == "__main__":
    status = main()
    # The interpreter's last act would be a garbage collection walking every object the build
    # made (a fifth of a one-page rebuild at 2000 pages); frozen, they are only freed.
    gc.freeze()
    sys.exit(status)
