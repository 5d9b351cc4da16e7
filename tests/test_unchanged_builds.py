"""A build that finds nothing changed answers with the last build's report (site.unchanged).

A context made for one build (the CLI's) that finds every source file, the key of the rest
and every published file as the last build left them, loads nothing into it: the report is
the last build's, nothing rendered. Every kind of change makes it a real build again, whose
output is a clean build's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from build_support import FILES, ROOT, run_build, site_toml, snapshot, write_site
from test_incremental_builds import EDITS, PAGES, apply, settle

from launchkit.config import load_config
from launchkit.errors import SiteError
from launchkit.site.builder import BuildReport, build_site
from launchkit.site.context import BuildContext


def build(root: Path, out: str = "public", **options) -> tuple[BuildReport, bool]:
    """A CLI-like build; and whether it was answered from the stamp (it filled nothing)."""
    context = BuildContext(one_build=True)
    report = build_site(load_config(root / "site.toml"), root / out, context=context, **options)
    return report, not context.records


def built(root: Path, **options) -> BuildReport:
    """A build that must have been a real one (something changed)."""
    report, answered = build(root, **options)
    assert not answered
    return report


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The fixture site, settled and built once."""
    root = write_site(tmp_path)
    settle(root)
    built(root)
    return root


def test_an_unchanged_site_is_answered_with_the_last_report(root: Path) -> None:
    before = snapshot(root / "public")
    last = built(root, clean=True)  # what a rebuild answers: this, with nothing rendered
    report, answered = build(root)
    assert answered
    assert (report.pages, report.files, report.warnings, report.notes) == (
        last.pages,
        last.files,
        last.warnings,
        last.notes,
    )
    assert (report.rendered, report.from_cache, report.markdown_rendered) == (0, PAGES, 0)
    assert report.images_processed == 0
    assert snapshot(root / "public") == before


def test_the_cli_answers_an_unchanged_site(root: Path) -> None:
    result = run_build(root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Built {PAGES} pages (0 rendered, {PAGES} from cache)")


@pytest.mark.parametrize("case", EDITS)
def test_a_settled_edit_is_built(root: Path, case: str) -> None:
    apply(root, case)
    settle(root)
    built(root)
    build_site(load_config(root / "site.toml"), root / "clean", clean=True)
    assert snapshot(root / "public") == snapshot(root / "clean")
    assert build(root)[1]  # and the next build finds nothing changed


def test_a_published_file_edited_or_deleted_is_made_again(root: Path) -> None:
    before = snapshot(root / "public")
    (root / "public/index.html").write_bytes(b"defaced")
    (root / "public/sitemap.xml").unlink()
    built(root)
    assert snapshot(root / "public") == before
    assert build(root)[1]
    page = root / "public/404.html"
    stat = page.stat()
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))  # same bytes, touched
    built(root)
    assert build(root)[1]


def test_options_and_folders_are_part_of_the_stamp(root: Path) -> None:
    built(root, drafts=True)
    built(root)
    built(root, checkout_endpoint="/checkout")
    built(root)
    built(root, strict=True)
    assert build(root, strict=True)[1]
    built(root, out="other")  # each folder has a stamp of its own: its last build's
    assert build(root, out="other")[1]
    assert build(root, strict=True)[1]


def test_strict_fails_on_the_warnings_of_an_unchanged_site(tmp_path: Path) -> None:
    broken = "---\ntitle: Broken\n---\nSee [nowhere](/nowhere/).\n"
    root = write_site(tmp_path, {"content/broken.md": broken})
    settle(root)
    first = built(root)
    assert any("/nowhere/" in str(warning) for warning in first.warnings)
    report, answered = build(root)
    assert answered
    assert report.warnings == first.warnings
    with pytest.raises(SiteError, match="--strict"):
        build(root, strict=True)
    assert build(root)[1]


def test_a_future_page_is_published_once_its_date_has_come(tmp_path: Path) -> None:
    post = "---\ntitle: Later\ndate: 2030-01-01\n---\nSoon.\n"
    root = write_site(tmp_path, {"content/blog/later.md": post})
    settle(root)
    before = dt.datetime(2029, 12, 31, tzinfo=dt.UTC)
    built(root, now=before)
    assert build(root, now=before)[1]
    assert not (root / "public/blog/later").exists()
    built(root, now=dt.datetime(2030, 1, 2, tzinfo=dt.UTC))
    assert (root / "public/blog/later/index.html").is_file()


def test_files_changed_moments_ago_are_not_trusted(root: Path) -> None:
    page = root / "content/about-us.md"
    stat = page.stat()
    page.write_text(FILES["content/about-us.md"].replace("About", "Abuot"), encoding="utf-8")
    os.utime(page, ns=(stat.st_atime_ns, time.time_ns()))
    built(root)
    assert "Abuot" in (root / "public/team/index.html").read_text(encoding="utf-8")
    built(root)  # still fresh: no stamp was kept, it is built again


def test_a_config_change_is_built(root: Path) -> None:
    config = root / "site.toml"
    config.write_text(site_toml().replace('title = "Shop"', 'title = "Shop 2"'), "utf-8")
    settle(root)
    built(root)
    assert "Shop 2" in (root / "public/index.html").read_text(encoding="utf-8")
    assert build(root)[1]


# A CLI build in a fresh process, counting the listings (os.scandir, which os.walk and
# pathlib's globs use) of each folder of the site; printed as JSON.
_COUNT_LISTINGS = """
import collections, json, sys
from pathlib import Path
listed = collections.Counter()
sys.addaudithook(lambda event, args: event == "os.scandir" and listed.update([str(args[0])]))
sys.argv = ["build.py", "--config", "site.toml"]
import build
assert build.main() == 0
print(json.dumps(listed))
"""


def test_a_page_edit_lists_each_source_folder_once(root: Path) -> None:
    """The stamp's walk is the build's: the scan of content/, the templates' digest (for
    the cache and the renderer) and static/'s media plan take its lists of files instead of
    walking again. Jinja lists templates/ once more, for the shortcodes' templates."""
    page = root / "content/about-us.md"
    page.write_text(FILES["content/about-us.md"] + "More.\n", encoding="utf-8")
    found = subprocess.run(
        [sys.executable, "-c", _COUNT_LISTINGS],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert found.returncode == 0, found.stderr
    listed = json.loads(found.stdout.splitlines()[-1])
    by_folder: dict[str, dict[str, int]] = {"content": {}, "templates": {}, "static": {}}
    for folder, count in listed.items():
        parts = Path(folder).relative_to(root).parts if Path(folder).is_relative_to(root) else ()
        if parts and parts[0] in by_folder:
            by_folder[parts[0]]["/".join(parts)] = count
    assert {"content", "content/blog"} <= by_folder["content"].keys()
    assert "static/css" in by_folder["static"]
    assert set(by_folder["content"].values()) == set(by_folder["static"].values()) == {1}
    assert set(by_folder["templates"].values()) == {2}, by_folder["templates"]
    assert "More." in (root / "public/team/index.html").read_text(encoding="utf-8")
