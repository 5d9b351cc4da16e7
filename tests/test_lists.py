"""List pages and feeds: tags and categories, the blog's pagination, feeds a reader can use.

A copy of the example site (its templates, theme and config) with a blog of 23 posts as
people tag them: mixed case, spaces, an accent, two spellings of one tag. Pages are parsed
(BeautifulSoup) and feeds parsed as XML, their entries' HTML parsed again.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from build_support import ROOT, parse_xml, snapshot

from launchkit.config import load_config
from launchkit.errors import SiteError, SiteErrors
from launchkit.site.builder import build_site
from launchkit.site.feed_html import feed_html

ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "https://beacon.example"
# (tags, has a description) of each post, oldest first; post 20 sells Pro.
TAGS = [
    ["Service Mesh", "Kubernetes"],
    ["service mesh"],
    ["Kubernetes", "Über Café"],
    ["Release"],
    ["Service Mesh", "Release"],
] * 4 + [["Kubernetes"], ["Release", "Service Mesh"], []]


def post(number: int, tags: list[str]) -> str:
    day = dt.date(2025, 1, 1) + dt.timedelta(days=7 * number)
    front = f"title: Post {number:02d}\ndate: {day.isoformat()}\n"
    if tags:
        front += f"tags: [{', '.join(tags)}]\n"
    if number % 2:
        front += f"description: What post {number} is about.\n"
    body = f"The first paragraph of post {number}.\n\n![A chart](../chart.png)\n\n"
    body += '<img src="../wide.png" srcset="../chart.png 1x, ../wide.png 2x" alt="x">\n\n'
    body += "See [the next post](../post-00/) and [pricing](/pricing/#plan-pro).\n"
    if number == 20:
        body += '\n{{< buy pro "Start Pro" >}}\n'
    return f"---\n{front}---\n{body}"


def make_site(root: Path, page_size: int = 5) -> Path:
    for name in ("templates", "static"):
        shutil.copytree(ROOT / name, root / name)
    (root / "content" / "blog").mkdir(parents=True)
    for page in [*(ROOT / "content").glob("*.md"), ROOT / "content" / "blog" / "index.md"]:
        shutil.copy(page, root / page.relative_to(ROOT))
    toml = (ROOT / "site.toml").read_text(encoding="utf-8")
    (root / "site.toml").write_text(
        toml.replace("[rewardful]", f"page_size = {page_size}\n\n[rewardful]", 1), "utf-8"
    )
    blog = root / "content" / "blog"
    for number, tags in enumerate(TAGS):
        (blog / f"post-{number:02d}.md").write_text(post(number, tags), encoding="utf-8")
    shutil.copy(ROOT / "static" / "images" / "social-card.png", blog / "chart.png")
    shutil.copy(blog / "chart.png", blog / "wide.png")
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    root = make_site(tmp_path_factory.mktemp("lists"))
    report = build_site(load_config(root / "site.toml"), root / "public", strict=True)
    assert report.warnings == ()  # the link checker finds every list link
    return root, snapshot(root / "public")


def soup(files: dict[str, bytes], name: str) -> BeautifulSoup:
    return BeautifulSoup(files[name], "html.parser")


def listed(page: BeautifulSoup) -> list[str]:
    return [a.get_text() for a in page.select(".post-list .post-card h2 a")]


def test_a_page_per_tag_newest_first_paginated(built) -> None:
    _, files = built
    # Two spellings, one term, named as most posts write it; 4 x 3 + 1 posts carry it.
    first = soup(files, "tags/service-mesh/index.html")
    assert first.h1.get_text() == "Posts tagged “Service Mesh”"
    assert first.select_one(".lede").get_text() == "13 posts"
    assert listed(first) == ["Post 21", "Post 19", "Post 16", "Post 15", "Post 14"]
    pages = [first] + [soup(files, f"tags/service-mesh/page/{n}/index.html") for n in range(2, 4)]
    assert [title for page in pages for title in listed(page)] == [
        f"Post {n:02d}" for n in (21, 19, 16, 15, 14, 11, 10, 9, 6, 5, 4, 1, 0)
    ]
    assert "tags/service-mesh/page/1/index.html" not in files  # page 1 is /tags/service-mesh/
    assert "tags/service-mesh/page/4/index.html" not in files
    assert soup(files, "tags/uber-cafe/index.html").h1.get_text() == "Posts tagged “Über Café”"
    # No file describes it: it says what it lists (search engines want a description).
    description = first.head.find("meta", attrs={"name": "description"})["content"]
    assert description == "Posts tagged “Service Mesh” on Beacon: 13 in all."
    index = soup(files, "tags/index.html").head.find("meta", attrs={"name": "description"})
    assert index["content"] == "Tags of Beacon: Kubernetes, Release, Service Mesh, Über Café"


def test_the_tags_index_links_every_tag_with_its_count(built) -> None:
    _, files = built
    index = soup(files, "tags/index.html")
    terms = [
        (a.get_text(), a["href"], a.find_next_sibling("span").get_text())
        for a in index.select(".term-list a")
    ]
    assert terms == [
        ("Kubernetes", "/tags/kubernetes/", "9"),
        ("Release", "/tags/release/", "9"),
        ("Service Mesh", "/tags/service-mesh/", "13"),
        ("Über Café", "/tags/uber-cafe/", "4"),
    ]


def test_a_post_links_to_its_tags(built) -> None:
    _, files = built
    page = soup(files, "blog/post-02/index.html")
    tags = [(a.get_text(), a["href"]) for a in page.select("header a[rel=tag]")]
    assert tags == [("Kubernetes", "/tags/kubernetes/"), ("Über Café", "/tags/uber-cafe/")]
    assert not soup(files, "blog/post-22/index.html").select("a[rel=tag]")


def test_the_blog_is_paginated_with_prev_and_next(built) -> None:
    _, files = built
    names = ["blog/index.html"] + [f"blog/page/{n}/index.html" for n in range(2, 6)]
    assert "blog/page/6/index.html" not in files and "blog/page/1/index.html" not in files
    pages = [soup(files, name) for name in names]
    assert [len(listed(page)) for page in pages] == [5, 5, 5, 5, 3]
    assert [title for page in pages for title in listed(page)] == [
        f"Post {n:02d}" for n in range(22, -1, -1)
    ]
    urls = ["/blog/"] + [f"/blog/page/{n}/" for n in range(2, 6)]
    for number, page in enumerate(pages):
        head_prev = page.head.find("link", rel="prev")
        head_next = page.head.find("link", rel="next")
        nav_prev = page.select_one("nav.pagination a[rel=prev]")
        nav_next = page.select_one("nav.pagination a[rel=next]")
        if number == 0:
            assert head_prev is None and nav_prev is None
        else:
            assert head_prev["href"] == BASE + urls[number - 1]
            assert nav_prev["href"] == urls[number - 1]
        if number == len(pages) - 1:
            assert head_next is None and nav_next is None
        else:
            assert head_next["href"] == BASE + urls[number + 1]
            assert nav_next["href"] == urls[number + 1]
        assert page.head.find("link", rel="canonical")["href"] == BASE + urls[number]
    titles = [page.title.get_text() for page in pages]
    assert titles[0] == "Blog · Beacon" and titles[2] == "Blog · Page 3 · Beacon"
    assert len(set(titles)) == len(titles)
    assert pages[0].select_one(".prose") is not None or pages[0].select(".lede")
    assert pages[1].select_one(".pagination__position").get_text() == "Page 2 of 5"


def test_the_sitemap_has_every_list_page(built) -> None:
    _, files = built
    urls = {loc.text for loc in parse_xml(files["sitemap.xml"]).iter()}
    for url in ("/blog/page/5/", "/tags/", "/tags/service-mesh/page/3/", "/tags/uber-cafe/"):
        assert BASE + url in urls


def test_every_feed_url_is_absolute_and_no_form_or_script(built) -> None:
    _, files = built
    feeds = sorted(name for name in files if name.endswith("feed.xml"))
    assert feeds == [
        "blog/feed.xml",
        "tags/kubernetes/feed.xml",
        "tags/release/feed.xml",
        "tags/service-mesh/feed.xml",
        "tags/uber-cafe/feed.xml",
    ]
    checked = 0
    for name in feeds:
        feed = parse_xml(files[name])
        for link in feed.iter(f"{ATOM}link"):
            assert urlsplit(link.get("href")).scheme == "https", name
        for entry in feed.findall(f"{ATOM}entry"):
            html = BeautifulSoup(entry.findtext(f"{ATOM}content"), "html.parser")
            assert not html.find_all(["form", "script", "input"]), name
            assert not html.select("[data-rewardful]"), name
            for element in html.find_all(True):
                urls = [element.get(key) for key in ("href", "src", "action", "poster")]
                srcset = element.get("srcset")
                if srcset:
                    urls += [candidate.split()[0] for candidate in srcset.split(",")]
                for url in filter(None, urls):
                    parts = urlsplit(url)
                    assert parts.scheme in ("https", "mailto") and parts.netloc, (name, url)
                    if parts.netloc == "beacon.example":  # ours: it exists
                        path = parts.path.lstrip("/")
                        assert path in files or path + "index.html" in files, (name, url)
                    checked += 1
    assert checked > 100


def test_feed_entries_resolve_relative_urls_against_the_post(built) -> None:
    _, files = built
    feed = parse_xml(files["tags/release/feed.xml"])
    entry = next(e for e in feed.findall(f"{ATOM}entry") if e.findtext(f"{ATOM}title") == "Post 03")
    html = BeautifulSoup(entry.findtext(f"{ATOM}content"), "html.parser")
    images = html.find_all("img")
    # ../chart.png from /blog/post-03/ is /blog/chart.png, published under its hashed name.
    assert images[0]["src"].startswith(f"{BASE}/blog/chart.") and images[0]["src"].endswith(".png")
    assert images[1]["src"].startswith(f"{BASE}/blog/wide.")
    one, two = images[1]["srcset"].split(", ")
    assert one.startswith(f"{BASE}/blog/chart.") and one.endswith(" 1x")
    assert two.startswith(f"{BASE}/blog/wide.") and two.endswith(" 2x")
    links = {a.get_text(): a["href"] for a in html.find_all("a")}
    assert links["the next post"] == f"{BASE}/blog/post-00/"
    assert links["pricing"] == f"{BASE}/pricing/#plan-pro"


def test_a_buy_form_becomes_a_link_to_the_post(built) -> None:
    _, files = built
    feed = parse_xml(files["blog/feed.xml"])
    entry = next(e for e in feed.findall(f"{ATOM}entry") if e.findtext(f"{ATOM}title") == "Post 20")
    html = BeautifulSoup(entry.findtext(f"{ATOM}content"), "html.parser")
    link = html.find("a", string="Buy Beacon Pro on Post 20")
    assert link is not None and link["href"] == f"{BASE}/blog/post-20/"
    # The post itself keeps its form.
    assert soup(files, "blog/post-20/index.html").select_one("form.buy-form") is not None


def test_an_edit_of_a_post_redoes_only_the_lists_that_show_it(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site")
    config = load_config(root / "site.toml")
    build_site(config, root / "public")
    # Post 03 has a description: its text is not its summary, no list shows it.
    described = root / "content" / "blog" / "post-03.md"
    described.write_text(described.read_text("utf-8") + "\nAnother paragraph.\n", "utf-8")
    assert build_site(config, root / "public").rendered == 1
    # Post 02 has none: its summary is its first paragraph. Its page, its blog page
    # (/blog/page/5/) and its tags' pages (Kubernetes page 2, Über Café) are redone.
    bare = root / "content" / "blog" / "post-02.md"
    text = bare.read_text("utf-8").replace("The first paragraph", "A new first paragraph")
    bare.write_text(text, "utf-8")
    assert build_site(config, root / "public").rendered == 1 + 1 + 2
    # A new tag on post 03: its page, the tags' index, the new tag's page; Release's,
    # Service Mesh's and the blog's pages show post 03's tags.
    described.write_text(
        described.read_text("utf-8").replace("tags: [Release]", "tags: [Release, Go]"), "utf-8"
    )
    report = build_site(config, root / "public")
    assert report.rendered == 1 + 1 + 1 + 1 + 1
    build_site(config, root / "clean", clean=True)
    assert snapshot(root / "public") == snapshot(root / "clean")


def test_a_page_of_content_gives_a_list_its_title_and_text(tmp_path: Path) -> None:
    root = make_site(tmp_path)
    (root / "content" / "tags").mkdir()
    (root / "content" / "tags" / "_index.md").write_text(
        "---\ntitle: Topics\ndescription: What we write about.\n---\nPick a topic.\n", "utf-8"
    )
    build_site(load_config(root / "site.toml"), root / "public", strict=True)
    page = soup(snapshot(root / "public"), "tags/index.html")
    assert page.h1.get_text() == "Topics"
    assert page.select_one(".prose").get_text().strip() == "Pick a topic."
    assert len(page.select(".term-list a")) == 4


def test_a_tag_without_letters_is_an_error_at_its_line(tmp_path: Path) -> None:
    root = make_site(tmp_path)
    bad = root / "content" / "blog" / "post-03.md"
    bad.write_text(bad.read_text("utf-8").replace("tags: [Release]", 'tags: ["!!!"]'), "utf-8")
    with pytest.raises((SiteError, SiteErrors)) as caught:
        build_site(load_config(root / "site.toml"), root / "public")
    message = str(caught.value)
    assert "post-03.md:4: the tag '!!!' has no letter or digit to make its URL from" in message
    assert not (root / "public").exists()


def test_a_theme_without_the_tag_templates_builds_and_says_what_to_copy(tmp_path: Path) -> None:
    """A theme copied before tag pages existed: the site builds as before, with a warning."""
    root = make_site(tmp_path)
    (root / "templates" / "term.html").unlink()
    # An old theme's posts link to no tag page: as they would, without the tags partial.
    (root / "templates" / "partials" / "post_tags.html").write_text("", "utf-8")
    report = build_site(load_config(root / "site.toml"), root / "public")
    assert [str(warning) for warning in report.warnings] == [
        f"{root}/content/blog/post-00.md:4: warning: pages have tags, but no term.html in "
        f"{root}/templates/: no tags pages are built (copy term.html and taxonomy.html from "
        "launchkit's templates/, see docs/theming.md)"
    ]
    assert not (root / "public" / "tags").exists()


def test_page_size_is_checked_at_its_line(tmp_path: Path) -> None:
    root = make_site(tmp_path, page_size=0)
    with pytest.raises(SiteError) as caught:
        load_config(root / "site.toml")
    lines = (root / "site.toml").read_text("utf-8").splitlines()
    assert caught.value.line == lines.index("page_size = 0") + 1
    assert "page_size" in str(caught.value)


# --- feed entries' HTML, parsed ----------------------------------------------------------


def product_name(key: str) -> str | None:
    return {"pro": "Beacon Pro"}.get(key)


def test_feed_html_resolves_every_kind_of_reference() -> None:
    html = (
        "Lead text <a href=../x/>unquoted</a> <a href='#top'>top</a> <a href=mailto:a@b.c>m</a>"
        '<p title="a > b"><img src="i.png" srcset="i.png 480w, /w.png 800w"></p>'
        '<video poster="p.jpg"><source src="v.mp4"></video><blockquote cite="q/">q</blockquote>'
        '<a href="https://other.example/y">other</a><a href="//cdn.example/z">cdn</a>'
    )
    out = BeautifulSoup(feed_html(html, f"{BASE}/blog/post/", "Post", product_name), "html.parser")
    assert out.contents[0] == "Lead text "
    assert [a["href"] for a in out.find_all("a")] == [
        f"{BASE}/blog/x/",
        f"{BASE}/blog/post/#top",
        "mailto:a@b.c",
        "https://other.example/y",
        "https://cdn.example/z",
    ]
    assert out.find("p")["title"] == "a > b"
    assert out.img["src"] == f"{BASE}/blog/post/i.png"
    assert out.img["srcset"] == f"{BASE}/blog/post/i.png 480w, {BASE}/w.png 800w"
    assert out.video["poster"] == f"{BASE}/blog/post/p.jpg"
    assert out.source["src"] == f"{BASE}/blog/post/v.mp4"
    assert out.blockquote["cite"] == f"{BASE}/blog/post/q/"


def test_feed_html_replaces_forms_and_drops_scripts_keeping_the_text() -> None:
    html = (
        "<p>Before</p>"
        '<form class="buy-form" method="post" action="https://pay.example/" data-rewardful>'
        '<input type="hidden" name="product" value="pro"><button>Start</button></form>After'
        '<form action="/newsletter/"><input name="email"></form>'
        "<p>One<script>alert(1)</script> two</p>"
        '<h2 id="h">Heading<a class="headerlink" href="#h">¶</a></h2>'
        '<div data-rewardful><input type="hidden" name="referral"> kept</div>'
    )
    out = BeautifulSoup(feed_html(html, f"{BASE}/p/", "The page", product_name), "html.parser")
    assert not out.find_all(["form", "script", "input", "button"])
    assert [(a.get_text(), a["href"]) for a in out.find_all("a")] == [
        ("Buy Beacon Pro on The page", f"{BASE}/p/"),
        ("Open the form on The page", f"{BASE}/p/"),
    ]
    text = out.get_text()
    assert "Before" in text and "After" in text and "One two" in text
    assert out.h2.get_text() == "Heading"
    assert out.div.attrs == {} and out.div.get_text().strip() == "kept"


def test_feed_html_of_nothing_is_nothing() -> None:
    assert feed_html("", f"{BASE}/", "Home", product_name) == ""
    assert feed_html("plain text", f"{BASE}/", "Home", product_name) == "plain text"


def test_jekylls_category_and_tag_are_a_category_and_a_tag(tmp_path: Path) -> None:
    root = make_site(tmp_path)
    (root / "content" / "blog" / "2013-05-06-released.markdown").write_text(
        '---\ntitle: "Jekyll 1.0.0 Released"\ndate: "2013-05-06 02:12:52 +0200"\n'
        "category: release\ncategories: [team]\ntag: news\n---\nHey!\n",
        "utf-8",
    )
    report = build_site(load_config(root / "site.toml"), root / "public", strict=True)
    files = snapshot(root / "public")
    index = soup(files, "categories/index.html")
    assert [a.get_text() for a in index.select(".term-list a")] == ["release", "team"]
    assert listed(soup(files, "categories/release/index.html")) == ["Jekyll 1.0.0 Released"]
    assert listed(soup(files, "tags/news/index.html")) == ["Jekyll 1.0.0 Released"]
    assert not [note for note in report.notes if "category" in note or "`tag`" in note]


def test_a_list_template_reading_a_posts_content_is_told_to_use_its_summary(
    tmp_path: Path,
) -> None:
    root = make_site(tmp_path)
    template = root / "templates" / "partials" / "post_list.html"
    text = template.read_text("utf-8").replace("{{ post.summary }}", "{{ post.content }}")
    template.write_text(text, "utf-8")
    with pytest.raises((SiteError, SiteErrors)) as caught:
        build_site(load_config(root / "site.toml"), root / "public")
    message = str(caught.value)
    line = text.splitlines().index(
        next(line for line in text.splitlines() if "post.content" in line)
    )
    assert f"templates/partials/post_list.html:{line + 1}: a list shows a page's summary" in message
    assert "use post.summary" in message
