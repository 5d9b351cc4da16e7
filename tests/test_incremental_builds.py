"""Incremental builds: after every kind of edit, the output is a clean build's, byte for byte.

Each case builds the fixture site, edits it, rebuilds into the same folder (in the same
process, as the preview server does) and compares the tree with a ``clean`` build of the
edited site into another folder; the report says how many pages were rendered again.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from build_support import FILES, ROOT, run_build, site_toml, snapshot, write_site

from launchkit.config import load_config
from launchkit.errors import SiteError
from launchkit.site import workers
from launchkit.site.builder import BuildReport, build_site
from launchkit.site.context import BuildContext

PAGES = 8  # the fixture's published pages
BUY_FORM = (ROOT / "templates/partials/buy_form.html").read_text(encoding="utf-8")
assert '"buy-form"' in BUY_FORM

# Each case: the files the edit writes (None deletes one), and how many pages it re-renders.
EDITS = {
    # The post, and the blog index that lists posts with section_pages().
    "page body": ({"content/blog/first.md": FILES["content/blog/first.md"] + "\nMore.\n"}, 2),
    # The page, and the blog index (section_pages() shows every page's front matter).
    "page title": ({"content/about-us.md": FILES["content/about-us.md"].replace("About", "Us")}, 2),
    # A menu label is in every page's navigation.
    "menu": ({"content/about-us.md": "---\ntitle: About\nslug: team\nmenu: Team\n---\n"}, PAGES),
    # A comment in page.html compiles to the same code: no page is made again.
    "template comment": ({"templates/page.html": '{% extends "base.html" %}\n{# edited #}\n'}, 0),
    # page.html: 404, about, buy and index; nothing else.
    "template output": (
        {
            "templates/page.html": (
                '{% extends "base.html" %}\n{% block content %}<div class="page">'
                "{{ page.content }}</div>{% endblock %}\n"
            )
        },
        4,
    ),
    # The pages that show a buy form: pricing (its template), buy (its shortcodes), and the
    # blog index, whose listing may show any page's HTML (forms included).
    "partial": (
        {"templates/partials/buy_form.html": BUY_FORM.replace('"buy-form"', '"buy-form x"')},
        3,
    ),
    # A product's text: the same three pages ([products] is read by nothing else).
    "config": ({"site.toml": site_toml().replace("$19 / month", "$21 / month")}, 3),
    # The site's title is on every page.
    "site config": (
        {"site.toml": site_toml().replace('title = "Shop"', 'title = "Shop 2"')},
        PAGES,
    ),
    # The blog index lists one post less; the feed (always generated) too.
    "deleted page": ({"content/blog/second.md": None}, 1),
    "added page": (
        {"content/blog/third.md": "---\ntitle: Third\ndate: 2026-06-01\n---\nNew.\n"},
        2,
    ),
    # A fingerprinted file (CSS, JS, fonts, images) gets a new name, which every page that
    # uses it must show: pages are rendered again (all of them: which page uses which file
    # is known only once it is rendered).
    "static file": ({"static/css/site.css": "body { margin: 1px }\n"}, PAGES),
    "file beside a page": ({"content/blog/chart.svg": "<svg/>\n"}, PAGES),
    # Other files keep their name: no page changes.
    "other static file": ({"static/terms.txt": "Terms.\n"}, 0),
}


def settle(root: Path) -> None:
    """Date every source an hour back: files that fresh are trusted by size and mtime."""
    past = time.time_ns() - 3600 * 10**9
    for path in root.rglob("*"):
        if path.is_file() and ".cache" not in path.parts:
            os.utime(path, ns=(past, past))


def build(root: Path, out: str = "public", **options) -> BuildReport:
    return build_site(load_config(root / "site.toml"), root / out, **options)


def apply(root: Path, case: str) -> None:
    """Make the edit of ``case``: write (or delete) only the files it names."""
    changes, _ = EDITS[case]
    for relative, text in changes.items():
        path = root / relative
        if text is None:
            path.unlink()
        else:
            path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("case", EDITS)
def test_incremental_output_equals_a_clean_build(tmp_path: Path, case: str) -> None:
    root = write_site(tmp_path)
    settle(root)  # the rebuild takes unchanged pages from the cache, unread
    first = build(root)
    assert (first.rendered, first.from_cache, first.markdown_rendered) == (PAGES, 0, PAGES)

    apply(root, case)
    report = build(root)
    clean = build(root, "clean", clean=True)

    assert snapshot(root / "public") == snapshot(root / "clean")
    _, expected = EDITS[case]
    assert report.rendered == expected, case
    assert report.from_cache == report.pages - expected
    assert clean.rendered == clean.pages
    if case != "page body":
        assert report.markdown_rendered == (1 if case == "added page" else 0)


def test_pages_with_the_same_size_and_mtime_are_not_read_again(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    settle(root)
    build(root)
    page = root / "content/about-us.md"
    stat = page.stat()
    # An edit that keeps size and mtime (which no editor makes): the cache cannot see it.
    page.write_text(page.read_text(encoding="utf-8").replace("About", "Abuot"), encoding="utf-8")
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert build(root).rendered == 0
    assert "Abuot" not in (root / "public/team/index.html").read_text(encoding="utf-8")
    # A file changed moments ago is read on every build until it has settled.
    page.touch()
    assert build(root).rendered == 2  # the page, and the blog index listing every title
    page.touch()
    assert "Abuot" in (root / "public/team/index.html").read_text(encoding="utf-8")
    assert build(root).rendered == 0


def test_page_body_edit_renders_one_body(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    build(root)
    apply(root, "page body")
    assert build(root).markdown_rendered == 1


def test_no_change_rebuild_renders_nothing(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    build(root)
    before = snapshot(root / "public")
    report = build(root)
    assert (report.rendered, report.from_cache, report.markdown_rendered) == (0, PAGES, 0)
    assert snapshot(root / "public") == before


def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    out = root / "public"
    build(root)
    # Backdate the generated files: a rewritten one would get the current time.
    past = 1_000_000_000_000_000_000
    generated = [path for path in out.rglob("*") if path.suffix in (".html", ".xml", ".txt")]
    for path in generated:
        os.utime(path, ns=(past, past))
    inodes = {path: path.stat().st_ino for path in out.rglob("*") if path.is_file()}
    apply(root, "page body")
    build(root)
    changed = {out / "blog/first/index.html", out / "blog/feed.xml"}  # the post, its feed entry
    for path, inode in inodes.items():
        assert (path.stat().st_ino == inode) == (path not in changed), path
        if path in generated:
            assert (path.stat().st_mtime_ns == past) == (path not in changed), path


def test_hand_edited_output_is_rendered_again(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    build(root)
    expected = (root / "public/index.html").read_bytes()
    (root / "public/index.html").write_text("defaced", encoding="utf-8")
    report = build(root)
    assert report.rendered == 1
    assert (root / "public/index.html").read_bytes() == expected


def test_hand_edited_feed_is_made_again(tmp_path: Path) -> None:
    # A feed whose posts did not change is kept as published, unless its file changed.
    root = write_site(tmp_path)
    build(root)
    feed = root / "public/blog/feed.xml"
    expected = feed.read_bytes()
    feed.write_bytes(b"defaced")
    build(root)
    assert feed.read_bytes() == expected
    feed.unlink()
    build(root)
    assert feed.read_bytes() == expected


def test_drafts_and_endpoint_are_part_of_the_key(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    build(root)
    with_drafts = build(root, drafts=True)
    assert with_drafts.rendered == 2  # the draft, and the blog index listing it
    build(root, checkout_endpoint="/checkout")
    actions = {
        form["action"]
        for form in BeautifulSoup(
            (root / "public/pricing/index.html").read_bytes(), "html.parser"
        ).find_all("form")
    }
    assert actions == {"/checkout"}


def test_unreadable_cache_is_an_empty_one(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    build(root)
    for path in (root / ".cache/build").rglob("*"):
        if path.is_file():  # compiled templates too
            path.write_bytes(b"\x00not marshal")
    assert "cache.sqlite3" in [path.name for path in (root / ".cache/build").iterdir()]
    report = build(root, "other")
    assert report.markdown_rendered == PAGES
    assert snapshot(root / "other") == snapshot(root / "public")


def test_cli_clean_renders_everything(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    assert run_build(root).returncode == 0
    result = run_build(root, "--clean")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Built {PAGES} pages ({PAGES} rendered, 0 from cache)")
    assert result.stderr == ""  # no progress bar off a terminal, no warnings


def test_worker_processes_give_the_same_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_site(tmp_path)
    serial = build(root, "serial", workers=1, clean=True)
    monkeypatch.setattr(workers, "PARALLEL_THRESHOLD", 0)  # every job list goes to workers
    parallel = build(root, "parallel", workers=2, clean=True)
    assert snapshot(root / "parallel") == snapshot(root / "serial")
    assert parallel.markdown_rendered == serial.markdown_rendered == PAGES


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("---\ntitle: S\n---\nHi.\n\n{{< /nope >}}\n", 6),  # found rendering Markdown
        ("---\ntitle: S\ndate: [\n---\nHi.\n", 4),  # found reading the page
    ],
)
def test_worker_errors_keep_path_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: int
) -> None:
    root = write_site(tmp_path, {"content/sc.md": text})
    monkeypatch.setattr(workers, "PARALLEL_THRESHOLD", 0)
    with pytest.raises(SiteError) as error:
        build(root, workers=2)
    assert error.value.location.endswith(f"content/sc.md:{line}")
    assert not (root / "public").exists()


def test_non_empty_folder_that_is_no_build_output_is_refused(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    (root / "docs").mkdir()
    (root / "docs" / "notes.txt").write_text("mine", encoding="utf-8")
    result = run_build(root, "--out", "docs")
    assert result.returncode == 1
    assert "refusing to publish" in result.stderr and ".launchkit-build" in result.stderr
    assert "Traceback" not in result.stderr
    assert [p.name for p in (root / "docs").iterdir()] == ["notes.txt"]
    (root / "empty").mkdir()
    assert run_build(root, "--out", "empty").returncode == 0
    assert run_build(root, "--out", "empty").returncode == 0  # its own output: replaced


def test_noindex_pages_stay_out_of_the_sitemap(tmp_path: Path) -> None:
    page = "---\ntitle: Thanks\nnoindex: true\n---\nThank you.\n"
    root = write_site(tmp_path, {"content/thanks.md": page})
    build(root)
    sitemap = (root / "public/sitemap.xml").read_text(encoding="utf-8")
    assert "https://shop.example/thanks/" not in sitemap
    assert "https://shop.example/pricing/" in sitemap
    assert (root / "public/thanks/index.html").is_file()


def test_files_the_site_no_longer_has_are_removed(tmp_path: Path) -> None:
    root = write_site(tmp_path, {"content/guide": "a file beside the pages\n"})
    build(root)
    assert (root / "public/guide").is_file()
    (root / "public/stray.txt").write_text("left by hand", encoding="utf-8")
    # The file becomes a folder of pages: the old file is in the way of the new folder.
    (root / "content/guide").unlink()
    write_site(root, {"content/guide/setup.md": "---\ntitle: Setup\n---\nSteps.\n"})
    build(root)
    clean = build(root, "clean", clean=True)
    assert clean.pages == PAGES + 1
    # A rebuild deletes what the last build published; a clean build anything else too.
    assert snapshot(root / "public") == {**snapshot(root / "clean"), "stray.txt": b"left by hand"}
    build(root, clean=True)
    assert snapshot(root / "public") == snapshot(root / "clean")


def test_failed_rebuild_leaves_no_half_published_files(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    build(root)
    before = snapshot(root / "public")
    apply(root, "page body")  # staged, then the link check fails the build
    write_site(root, {"content/zz-broken.md": "---\ntitle: Broken\n---\n[x](/nowhere/)\n"})
    with pytest.raises(SiteError, match="--strict"):
        build(root, strict=True)
    assert snapshot(root / "public") == before  # no .launchkit-new file either


def test_the_preview_looks_only_at_the_paths_it_is_told_of(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    config = load_config(root / "site.toml")
    context = BuildContext()
    build_site(config, root / "public", context=context)
    post, other = root / "content/blog/first.md", root / "content/buy.md"
    post.write_text(FILES["content/blog/first.md"] + "\nMore.\n", encoding="utf-8")
    other.write_text(FILES["content/buy.md"] + "\nNot reported.\n", encoding="utf-8")
    report = build_site(config, root / "public", context=context, changed={post})
    assert report.rendered == 2  # the post and the blog index; buy.md was not looked at
    assert "Not reported" not in (root / "public/buy/index.html").read_text(encoding="utf-8")
    assert "More." in (root / "public/blog/first/index.html").read_text(encoding="utf-8")
    report = build_site(config, root / "public", context=context, changed={other})
    assert report.rendered == 2  # buy, and the blog index (its listing may show any page)
    assert "Not reported" in (root / "public/buy/index.html").read_text(encoding="utf-8")
