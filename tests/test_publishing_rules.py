"""Publishing rules: future posts wait, drafts are marked and unindexed, `_index.md` is a
section's page, and a link to a page left out says why it is missing."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from build_support import parse_xml, run_build, snapshot, write_site
from image_support import photo, write_bytes
from test_front_matter import post, with_repo_templates

from launchkit.config import load_config
from launchkit.errors import SiteError
from launchkit.site.builder import BuildReport, build_site

NOW = dt.datetime(2026, 12, 1, 6, 30, tzinfo=dt.UTC)
ATOM = "{http://www.w3.org/2005/Atom}"


def build(root: Path, **options) -> tuple[BuildReport, dict[str, bytes]]:
    options.setdefault("now", NOW)
    report = build_site(load_config(root / "site.toml"), root / "public", **options)
    return report, snapshot(root / "public")


def listed(files: dict[str, bytes]) -> tuple[set[str], set[str]]:
    """The URLs in the sitemap and in the feed."""
    sitemap = parse_xml(files["sitemap.xml"])
    feed = parse_xml(files["blog/feed.xml"])
    return (
        {loc.text for loc in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")},
        {entry.findtext(f"{ATOM}id") for entry in feed.iter(f"{ATOM}entry")},
    )


SCHEDULED = {
    # Later today, written as Hugo exports it (quoted) and as Jekyll writes it (unquoted).
    "content/blog/quoted.md": post("date: '2026-12-01T07:00:00.000Z'\n"),
    "content/blog/jekyll.md": post("date: 2026-12-01 08:00:00 +0100\n"),  # 07:00 UTC
    "content/blog/tomorrow.md": post("date: 2026-12-02\n"),
    "content/blog/earlier.md": post("date: '2026-12-01T06:00:00Z'\n"),
}


def test_future_pages_wait_for_their_date(tmp_path: Path) -> None:
    root = write_site(tmp_path, SCHEDULED)
    _, files = build(root)
    assert "blog/earlier/index.html" in files
    for name in ("quoted", "jekyll", "tomorrow"):
        assert f"blog/{name}/index.html" not in files
    sitemap, feed = listed(files)
    assert "https://shop.example/blog/earlier/" in sitemap
    assert "https://shop.example/blog/quoted/" not in sitemap | feed
    # Half an hour later the two 07:00 UTC posts, quoted or not, are due together.
    _, files = build(root, now=NOW + dt.timedelta(minutes=30))
    assert {"blog/quoted/index.html", "blog/jekyll/index.html"} <= set(files)
    assert "blog/tomorrow/index.html" not in files


def test_future_option_publishes_them_now(tmp_path: Path) -> None:
    _, files = build(write_site(tmp_path, SCHEDULED), future=True)
    assert {f"blog/{name}/index.html" for name in ("quoted", "jekyll", "tomorrow")} <= set(files)


def test_future_through_the_cli(tmp_path: Path) -> None:
    root = write_site(tmp_path, {"content/blog/later.md": post("date: 2999-01-01\n")})
    assert run_build(root).returncode == 0
    assert not (root / "public/blog/later/index.html").exists()
    assert run_build(root, "--future").returncode == 0
    assert (root / "public/blog/later/index.html").is_file()


def test_drafts_are_marked_unindexed_and_unlisted(tmp_path: Path) -> None:
    changes = with_repo_templates(
        {"content/blog/secret.md": post("date: 2026-11-01\ndraft: true\n")}
    )
    root = write_site(tmp_path, changes)
    _, files = build(root)
    assert "blog/secret/index.html" not in files
    _, files = build(root, drafts=True)
    page = BeautifulSoup(files["blog/secret/index.html"], "html.parser")
    assert page.head.find("meta", attrs={"name": "robots"})["content"] == "noindex"
    banner = page.body.find(class_="draft-banner")
    assert banner is not None and "Draft" in banner.text
    published = BeautifulSoup(files["blog/first/index.html"], "html.parser")
    assert published.head.find("meta", attrs={"name": "robots"}) is None
    assert published.body.find(class_="draft-banner") is None
    sitemap, feed = listed(files)
    assert "https://shop.example/blog/secret/" not in sitemap | feed


def test_jekyll_published_false_is_a_draft(tmp_path: Path) -> None:
    root = write_site(
        tmp_path, {"content/blog/hidden.md": post("date: 2026-01-01\npublished: false\n")}
    )
    _, files = build(root)
    assert "blog/hidden/index.html" not in files
    _, files = build(root, drafts=True)
    assert "blog/hidden/index.html" in files


def test_links_to_pages_left_out_say_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    links = "See [the plan](/blog/secret/), [the launch](../tomorrow/) and [gone](/blog/gone/).\n"
    changes = {
        "content/blog/secret.md": post("date: 2026-11-01\ndraft: true\n"),
        "content/blog/tomorrow.md": post("date: 2026-12-02\n"),
        "content/blog/links.md": post("date: 2026-11-02\n", links),
    }
    root = write_site(tmp_path, changes)
    monkeypatch.chdir(root)
    report, _ = build(root)
    assert [str(warning) for warning in report.warnings] == [
        "content/blog/links.md:5: warning: broken link /blog/gone/: no /blog/gone/ in the "
        "built site",
        "content/blog/links.md:5: warning: link ../tomorrow/ to a page left out of this "
        "build: content/blog/tomorrow.md is dated 2026-12-02T00:00:00+00:00, in the future "
        "(published by the first build after that; --future builds it now)",
        "content/blog/links.md:5: warning: link /blog/secret/ to a page left out of this "
        "build: content/blog/secret.md is a draft (build with --drafts to see it)",
    ]
    report, _ = build(root, drafts=True, future=True)
    assert [warning.message for warning in report.warnings] == [
        "broken link /blog/gone/: no /blog/gone/ in the built site"
    ]


def test_hugo_index_is_the_sections_page(tmp_path: Path) -> None:
    changes = {
        "content/blog/index.md": None,
        "content/blog/_index.md": "---\ntitle: Our blog\n---\n",
        "content/docs/_index.md": "---\ntitle: Docs\n---\nStart here.\n",
        "content/docs/setup.md": "---\ntitle: Setup\n---\nSteps.\n",
    }
    _, files = build(write_site(tmp_path, changes))
    assert "blog/_index/index.html" not in files
    blog = BeautifulSoup(files["blog/index.html"], "html.parser")
    assert blog.title.text == "Our blog | Shop"
    titles = [link.text for link in blog.main.find_all("a")]
    assert titles == ["Second <post>", "First post"]  # the blog template's listing
    docs = BeautifulSoup(files["docs/index.html"], "html.parser")
    assert docs.main.p.text == "Start here."


def test_index_and_hugo_index_in_one_folder_are_one_url_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_site(tmp_path, {"content/blog/_index.md": "---\ntitle: Blog again\n---\n"})
    monkeypatch.chdir(root)
    with pytest.raises(SiteError) as caught:
        build(root)
    assert str(caught.value) == (
        "content/blog/index.md: two pages have the URL /blog/: content/blog/_index.md and "
        "content/blog/index.md\n  hint: rename one of them or give it another 'slug'"
    )


def test_markdown_suffix_is_a_page_too(tmp_path: Path) -> None:
    """Jekyll's posts are often '.markdown' files: pages, not files to copy."""
    changes = {"content/blog/2013-05-06-released.markdown": post("date: 2013-05-06\n")}
    _, files = build(write_site(tmp_path, changes))
    assert "blog/2013-05-06-released/index.html" in files
    assert "blog/2013-05-06-released.markdown" not in files


def test_a_bundles_files_follow_its_slug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hugo page bundle: `index.md` with `slug:` moves, and its images with it."""
    changes = {
        "content/blog/0918-launch/index.md": post(
            "date: 2018-09-18\nslug: launch\n", "![Cover](cover.png)\n\n![Chart](img/chart.svg)\n"
        ),
        "content/blog/0918-launch/img/chart.svg": "<svg/>",
        "content/docs/index.md": "---\ntitle: Docs\nslug: manual\n---\n",  # a section: stays
        "content/docs/setup.md": "---\ntitle: Setup\n---\n",
        "content/docs/diagram.svg": "<svg/>",
    }
    root = write_site(tmp_path, changes)
    write_bytes(root / "content/blog/0918-launch/cover.png", photo(64, 48, image_format="PNG"))
    monkeypatch.chdir(root)
    report, files = build(root)
    # Images are published under content-hashed names (tests/test_images.py): "cover.#.png".
    named = {re.sub(r"\.[0-9a-f]{8}(-\d+)?\.", ".#.", name) for name in files}
    assert {"blog/launch/index.html", "blog/launch/cover.#.png", "blog/launch/img/chart.#.svg"} <= (
        named
    )
    assert not any(name.startswith("blog/0918-launch/") for name in files)
    assert "docs/diagram.#.svg" in named and "manual/index.html" in named
    assert report.warnings == ()
    page = BeautifulSoup(files["blog/launch/index.html"], "html.parser")
    sources = [img["src"] for img in page.main.find_all("img")]
    assert [re.sub(r"\.[0-9a-f]{8}(-\d+)?\.", ".#.", src) for src in sources] == [
        "/blog/launch/cover.#.png",
        "/blog/launch/img/chart.#.svg",
    ]
