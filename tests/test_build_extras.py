"""sitemap.xml, robots.txt and the blog's Atom feed: parsed as XML, absolute URLs, no drafts."""

from __future__ import annotations

from pathlib import Path

from build_support import parse_xml, snapshot, write_site

from launchkit.config import load_config
from launchkit.site.builder import build_site

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
ATOM = "{http://www.w3.org/2005/Atom}"


def build(root: Path, **options) -> dict[str, bytes]:
    build_site(load_config(root / "site.toml"), root / "public", **options)
    return snapshot(root / "public")


def test_sitemap_lists_published_pages_absolute(tmp_path: Path) -> None:
    files = build(write_site(tmp_path), drafts=True)  # drafts built, yet not listed
    urls = [loc.text for loc in parse_xml(files["sitemap.xml"]).iter(f"{SITEMAP}loc")]
    assert urls == sorted(urls)
    assert set(urls) == {
        "https://shop.example/",
        "https://shop.example/pricing/",
        "https://shop.example/buy/",
        "https://shop.example/team/",
        "https://shop.example/blog/",
        "https://shop.example/blog/first/",
        "https://shop.example/blog/second/",
    }


def test_robots_names_the_sitemap(tmp_path: Path) -> None:
    robots = build(write_site(tmp_path))["robots.txt"].decode()
    assert "Sitemap: https://shop.example/sitemap.xml" in robots.splitlines()


def test_atom_feed_of_dated_posts(tmp_path: Path) -> None:
    files = build(write_site(tmp_path), drafts=True)
    feed = parse_xml(files["blog/feed.xml"])
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}title") for entry in entries] == [
        "Second <post>",  # escaped in the file, the same text once parsed
        "First post",
    ]
    assert [entry.find(f"{ATOM}link").get("href") for entry in entries] == [
        "https://shop.example/blog/second/",
        "https://shop.example/blog/first/",
    ]
    # No build timestamp: the feed is as new as its newest post.
    assert feed.findtext(f"{ATOM}updated") == "2026-03-04T00:00:00Z"
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == (
        "https://shop.example/blog/feed.xml"
    )
    assert entries[1].findtext(f"{ATOM}summary") == "The first."
    assert "<img" in entries[1].findtext(f"{ATOM}content")


def test_feed_link_only_when_the_blog_has_posts(tmp_path: Path) -> None:
    root = write_site(tmp_path, {"content/blog/first.md": None, "content/blog/second.md": None})
    files = build(root)
    assert "blog/feed.xml" not in files
    assert b"application/atom+xml" not in files["index.html"]
    with_feed = build(write_site(tmp_path / "with"))
    assert b'href="https://shop.example/blog/feed.xml"' in with_feed["index.html"]


def test_feed_carries_the_newest_posts_only(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    toml = (root / "site.toml").read_text(encoding="utf-8")
    (root / "site.toml").write_text(
        toml.replace('description = "A shop."', 'description = "A shop."\nfeed_entries = 1'),
        encoding="utf-8",
    )
    feed = parse_xml(build(root)["blog/feed.xml"])
    titles = [entry.findtext(f"{ATOM}title") for entry in feed.findall(f"{ATOM}entry")]
    assert titles == ["Second <post>"]
    assert feed.findtext(f"{ATOM}updated") == "2026-03-04T00:00:00Z"
