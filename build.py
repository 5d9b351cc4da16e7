#!/usr/bin/env python3
"""Build the marketing site: ``python build.py [--out DIR] [--config FILE] [--drafts]``.

A thin entry point: argument parsing and messages. The work is in ``launchkit.builder``.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from launchkit.builder import build_site
from launchkit.config import DEFAULT_CONFIG, load_config
from launchkit.content import display_path
from launchkit.errors import SiteError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build the site from content/, templates/ and static/ into one folder."
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder, replaced as a whole when the build succeeds "
        "(default: public/ beside the config file)",
    )
    parser.add_argument(
        "--config", type=Path, default=Path(DEFAULT_CONFIG), help="the site's config file"
    )
    parser.add_argument("--drafts", action="store_true", help="include pages with 'draft: true'")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of errors")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build, print a one-line summary or an error; the exit status for the shell."""
    args = parse_args(argv)
    try:
        config = load_config(args.config)
        out = args.out if args.out is not None else config.root / "public"
        report = build_site(config, out, drafts=args.drafts)
    except SiteError as exc:
        return _fail(str(exc), args.verbose)
    except OSError as exc:  # a disk full or a folder without write permission
        return _fail(f"error: {exc}", args.verbose)
    except Exception as exc:  # a bug in launchkit; the message is still one line
        return _fail(f"internal error: {exc!r} (run with --verbose for details)", args.verbose)
    print(
        f"Built {report.pages} pages, {report.files} files in {report.seconds:.2f} s "
        f"-> {display_path(out)}/"
    )
    return 0


def _fail(message: str, verbose: bool) -> int:
    if verbose:
        traceback.print_exc()
    print(message, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
