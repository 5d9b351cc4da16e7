"""URLs and publishing as Hugo users expect them, through real builds: aliases (redirect
pages), permalink patterns per section, the preview's future pages, and the built-in ``ref``,
``relref`` and ``param`` shortcodes. Pages are read back as parsed HTML; errors as the CLI
prints them (``path:line``)."""

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
from launchkit.site.context import BuildContext

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}loc"
ATOM = "{http://www.w3.org/2005/Atom}"


def build(root: Path, **options) -> tuple[BuildReport, dict[str, bytes]]:
    options.setdefault("now", NOW)
    report = build_site(load_config(root / "site.toml"), root / "public", **options)
    return report, snapshot(root / "public")


def error_of(root: Path, monkeypatch: pytest.MonkeyPatch, **options) -> str:
    """The text the CLI prints for the build's error, paths relative to the site."""
    monkeypatch.chdir(root)
    with pytest.raises(SiteError) as caught:
        build(root, **options)
    return str(caught.value)


def html(files: dict[str, bytes], name: str) -> BeautifulSoup:
    return BeautifulSoup(files[name], "html.parser")


def sitemap_urls(files: dict[str, bytes]) -> set[str]:
    return {loc.text for loc in parse_xml(files["sitemap.xml"]).iter(SITEMAP)}


def with_config(extra: str, changes: dict[str, str | None] | None = None) -> dict:
    """The fixture's site.toml with ``extra`` lines at its end, and ``changes``."""
    from build_support import site_toml

    return {"site.toml": site_toml() + extra, **(changes or {})}


# --- aliases ---------------------------------------------------------------------------------

MOVED = post(
    "date: 2026-02-01\naliases:\n  - /2019/02/01/launch-day/\n  - /old-launch.html\n"
    "  - launch-notes\n",
)


def test_each_alias_is_a_redirect_page_to_its_page(tmp_path: Path) -> None:
    root = write_site(tmp_path, {"content/blog/launch.md": MOVED})
    report, files = build(root)
    for name in ("2019/02/01/launch-day/index.html", "old-launch.html"):
        page = html(files, name)
        head = page.head
        refresh = head.find("meta", attrs={"http-equiv": "refresh"})["content"]
        assert refresh == "0; url=/blog/launch/"  # on this host: the preview, a staging site
        assert head.find("link", rel="canonical")["href"] == "https://shop.example/blog/launch/"
        assert head.find("meta", attrs={"name": "robots"})["content"] == "noindex"
        link = page.body.find("a")
        assert (link["href"], link.text) == ("/blog/launch/", "Launch day")
        # Rewardful's snippet first; then the script that keeps ?via= on the way to the page.
        scripts = head.find_all("script")
        assert "rewardful" in scripts[0].text and "r.wdfl.co/rw.js" in scripts[1]["src"]
        assert (
            scripts[-1].text
            == 'location.replace("/blog/launch/" + location.search + location.hash)'
        )
    # A relative alias is taken from the folder of the page's file, as Hugo does.
    assert "blog/launch-notes/index.html" in files
    sitemap = sitemap_urls(files)
    assert "https://shop.example/blog/launch/" in sitemap
    assert not any("launch-day" in url or "old-launch" in url or "notes" in url for url in sitemap)
    assert not [warning for warning in report.warnings if "launch" in str(warning)]


def test_relative_aliases_start_from_the_pages_folder_in_content(tmp_path: Path) -> None:
    changes = with_config(
        '\n[permalinks]\nblog = "/:year/:slug/"\n',
        {
            "content/blog/2024/launch/index.md": post(
                "date: 2024-03-05\naliases: [old-launch, ../../launch.html]\n"
            ),
        },
    )
    _, files = build(write_site(tmp_path, changes))
    assert "2024/launch-day/index.html" in files  # the page, by its pattern
    # The bundle's folder is blog/2024/launch: its aliases start from blog/2024.
    refresh = {"http-equiv": "refresh"}
    for name in ("blog/2024/old-launch/index.html", "launch.html"):
        page = html(files, name)
        assert page.head.find("meta", attrs=refresh)["content"] == "0; url=/2024/launch-day/"


def test_alias_collisions_are_errors_at_the_aliases_line_all_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changes = {
        "content/blog/one.md": post("date: 2026-01-01\naliases: [/pricing/, /shared/]\n"),
        "content/blog/two.md": post("date: 2026-01-02\naliases:\n  - /shared\n"),
        "content/blog/three.md": post(
            "date: 2026-01-03\naliases: ['https://elsewhere.example/x']\n"
        ),
        "content/blog/four.md": post("date: 2026-01-04\naliases: [/blog/four/]\n"),
        "content/broken.md": "---\ntitle: [unclosed\n---\n",
    }
    text = error_of(write_site(tmp_path, changes), monkeypatch)
    assert "5 errors: nothing published" in text
    assert "content/blog/four.md:4: alias '/blog/four/' is its own URL" in text
    assert "content/blog/one.md:4: alias '/pricing/' is the URL of content/pricing.md" in text
    assert (
        "content/blog/three.md:4: alias 'https://elsewhere.example/x' is not a path on this "
        "site" in text
    )
    assert "content/blog/two.md:4: alias '/shared' is an alias of content/blog/one.md too" in text
    assert "content/broken.md:3: front matter is not valid YAML" in text


def test_a_changed_alias_list_rebuilds_as_a_clean_build(tmp_path: Path) -> None:
    root = write_site(tmp_path, {"content/blog/launch.md": MOVED})
    context = BuildContext()
    build(root, context=context)
    (root / "content/blog/launch.md").write_text(
        post("date: 2026-02-01\ntitle: Launched\naliases: [/new-alias/]\n"), encoding="utf-8"
    )
    report, files = build(root, context=context)
    assert "old-launch.html" not in files and "new-alias/index.html" in files
    _, clean = build(root, clean=True)
    assert files == clean
    assert report.rendered < report.pages


# --- permalinks ------------------------------------------------------------------------------

PERMALINKS = '\n[permalinks]\nblog = "/blog/:year/:month/:day/:slug/"\n'


def test_permalinks_place_a_sections_pages_by_date_and_slug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linkerd's case: roundups that share one slug, told apart by their dates; a bundle's
    files move with its page; the sitemap and links follow."""
    changes = with_config(
        PERMALINKS,
        {
            "content/blog/2023/0807-roundup/index.md": post(
                "date: 2023-08-07T00:00:00Z\nslug: edge-release-roundup\n",
                "![Cover](cover.png)\n\nSee [the earlier one](../../2023/0703-roundup/).\n",
            ),
            "content/blog/2023/0703-roundup/index.md": post(
                "date: 2023-07-03\nslug: edge-release-roundup\n"
            ),
            "content/blog/title-only.md": (
                "---\ntitle: 'Slow Cooker: Load testing for tough software'\n"
                "date: 2016-12-10\n---\nLinks: [first](/blog/2026/01/02/first-post/).\n"
            ),
        },
    )
    root = write_site(tmp_path, changes)
    write_bytes(
        root / "content/blog/2023/0807-roundup/cover.png", photo(64, 48, image_format="PNG")
    )
    monkeypatch.chdir(root)
    report, files = build(root)
    assert {
        "blog/2023/08/07/edge-release-roundup/index.html",
        "blog/2023/07/03/edge-release-roundup/index.html",
        "blog/2016/12/10/slow-cooker-load-testing-for-tough-software/index.html",
        "blog/2026/01/02/first-post/index.html",  # no slug: its title
        "blog/index.html",  # the section's own page stays
    } <= set(files)
    named = {re.sub(r"\.[0-9a-f]{8}(-\d+)?\.", ".#.", name) for name in files}
    assert "blog/2023/08/07/edge-release-roundup/cover.#.png" in named
    page = html(files, "blog/2023/08/07/edge-release-roundup/index.html")
    assert page.main.img["src"].startswith("/blog/2023/08/07/edge-release-roundup/cover.")
    assert "https://shop.example/blog/2023/08/07/edge-release-roundup/" in sitemap_urls(files)
    # The relative link written for the old layout is now broken, and the checker says so.
    assert [str(warning) for warning in report.warnings] == [
        "content/blog/2023/0807-roundup/index.md:8: warning: broken link "
        "../../2023/0703-roundup/: no /blog/2023/08/2023/0703-roundup/ in the built site",
        "content/blog/first.md:6: warning: broken link ../chart.svg: no "
        "/blog/2026/01/02/chart.svg in the built site",
    ]


def test_a_pages_own_url_places_it_over_permalinks_and_slug(tmp_path: Path) -> None:
    """Flux's posts: a bundle whose 'url:' is its real URL, its old file-named URL an alias;
    its image goes with it, and another post links to it by that URL."""
    changes = with_config(
        PERMALINKS,
        {
            "content/blog/2021-11-10-audit/index.md": post(
                "date: 2021-11-10\nslug: ignored\nurl: /blog/2021/11/audit\n"
                "aliases: [/blog/2021-11-10-audit/]\n",
                "![Report](report.png)\n",
            ),
            "content/blog/2021-12-01-next.md": post(
                "date: 2021-12-01\nurl: /blog/next.html\n",
                "After [the audit](/blog/2021/11/audit/).\n",
            ),
        },
    )
    root = write_site(tmp_path, changes)
    write_bytes(
        root / "content/blog/2021-11-10-audit/report.png", photo(64, 48, image_format="PNG")
    )
    report, files = build(root)
    assert {"blog/2021/11/audit/index.html", "blog/next.html"} <= set(files)
    page = html(files, "blog/2021/11/audit/index.html")
    assert page.main.img["src"].startswith("/blog/2021/11/audit/report.")
    redirect = html(files, "blog/2021-11-10-audit/index.html")
    assert redirect.find("link", rel="canonical")["href"].endswith("/blog/2021/11/audit/")
    assert "https://shop.example/blog/next.html" in sitemap_urls(files)
    assert not [w for w in report.warnings if "audit" in str(w)]


@pytest.mark.parametrize(
    "url",
    [
        "blog/x/",
        "/blog/../x/",
        "/blog x/",
        "/blog/?page=2",
        "/.launchkit-staging/x/",
        "/.launchkit-build",
    ],
)
def test_a_url_that_is_no_path_on_the_site_is_an_error_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    root = write_site(tmp_path, {"content/blog/x.md": post(f"date: 2021-01-01\nurl: '{url}'\n")})
    assert error_of(root, monkeypatch).startswith(
        f"content/blog/x.md:4: 'url' must be a path on the site such as /blog/2021/11/launch/, "
        f"got {url!r}"
    )


def test_hugos_permalinks_page_table_and_filename_tokens(tmp_path: Path) -> None:
    config = '\n[permalinks.page]\nblog = "/:section/:filename/"\ndocs = "/d/:slugorfilename"\n'
    changes = with_config(
        config,
        {
            "content/docs/setup.md": "---\ntitle: Set up\n---\n",
            "content/docs/api/index.md": "---\ntitle: API\nslug: reference\n---\n",
        },
    )
    _, files = build(write_site(tmp_path, changes))
    assert {"blog/first/index.html", "d/setup/index.html", "d/reference/index.html"} <= set(files)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            '[permalinks]\nblog = "/blog/:yaer/:slug/"\n',
            "site.toml:{line}: 'permalinks.blog': unknown token ':yaer' in '/blog/:yaer/:slug/': "
            "use :day, :filename, :month, :section, :slug, :slugorfilename, :title, :year",
        ),
        (
            '[permalinks]\nblog = "blog/:slug/"\n',
            "site.toml:{line}: 'permalinks.blog': must be a path on the site such as "
            "/blog/:year/:slug/, got 'blog/:slug/'",
        ),
        (
            '[permalinks.section]\nblog = "/b/:slug/"\n',
            "site.toml:{line}: 'permalinks.section': only [permalinks] and [permalinks.page] "
            "are read: a section's own page keeps its folder's URL",
        ),
    ],
)
def test_a_bad_permalink_pattern_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str, message: str
) -> None:
    root = write_site(tmp_path, with_config("\n" + config))
    lines = (root / "site.toml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith(("blog =", "[perma")))
    line += "permalinks.section" not in config  # the key's line, or its table's
    monkeypatch.chdir(root)
    with pytest.raises(SiteError) as caught:
        load_config("site.toml")
    assert str(caught.value) == message.format(line=line)


def test_a_page_without_the_date_its_pattern_needs_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changes = with_config(PERMALINKS, {"content/blog/undated.md": "---\ntitle: Undated\n---\n"})
    text = error_of(write_site(tmp_path, changes), monkeypatch)
    assert text.startswith(
        "content/blog/undated.md:1: the permalink pattern '/blog/:year/:month/:day/:slug/' "
        "of section 'blog' needs a date\n  hint: add 'date: YYYY-MM-DD' to the front matter"
    )


def test_a_permalink_change_rebuilds_as_a_clean_build(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    context = BuildContext()
    build(root, context=context)
    (root / "site.toml").write_text(with_config(PERMALINKS)["site.toml"], encoding="utf-8")
    _, files = build(root, context=context)
    assert "blog/2026/01/02/first-post/index.html" in files
    assert "blog/first/index.html" not in files
    _, clean = build(root, clean=True)
    assert files == clean


# --- future pages in the preview -------------------------------------------------------------

LATER = {"content/blog/later.md": post("date: 2026-12-24\n")}


def test_the_preview_shows_future_pages_marked_and_unindexed(tmp_path: Path) -> None:
    root = write_site(tmp_path, with_repo_templates(LATER))
    _, files = build(root, preview=True)
    page = html(files, "blog/later/index.html")
    assert page.head.find("meta", attrs={"name": "robots"})["content"] == "noindex"
    banner = page.body.find(class_="draft-banner")
    assert "Scheduled for December 24, 2026: not published yet" in banner.text
    assert "https://shop.example/blog/later/" not in sitemap_urls(files)
    feed = parse_xml(files["blog/feed.xml"])
    assert "https://shop.example/blog/later/" not in {
        entry.findtext(f"{ATOM}id") for entry in feed.iter(f"{ATOM}entry")
    }
    first = html(files, "blog/first/index.html")
    assert first.body.find(class_="draft-banner") is None
    # Once its date has come, the same preview shows it as any page.
    _, files = build(root, preview=True, now=dt.datetime(2026, 12, 25, tzinfo=dt.UTC))
    assert html(files, "blog/later/index.html").body.find(class_="draft-banner") is None
    assert "https://shop.example/blog/later/" in sitemap_urls(files)


def test_future_in_a_build_publishes_them_unmarked(tmp_path: Path) -> None:
    root = write_site(tmp_path, with_repo_templates(LATER))
    assert run_build(root, "--future").returncode == 0
    page = BeautifulSoup((root / "public/blog/later/index.html").read_bytes(), "html.parser")
    assert page.body.find(class_="draft-banner") is None
    assert page.head.find("meta", attrs={"name": "robots"}) is None


# --- ref, relref, param ----------------------------------------------------------------------

REFS = (
    'Read [the first]({{< relref "first.md" >}}), [the second]({{< ref "/blog/second#more" >}}),\n'
    '[pricing]({{< relref "pricing" >}}), [the launch]({{< relref "launch" >}}) and\n'
    '[this]({{< relref "#top" >}}). Support: {{< param support >}}; '
    "{{< param social.handle >}}.\n"
)
REF_FILES = {
    "content/blog/refs.md": post("date: 2026-02-01\nsupport: 9 to 5 <CET>\n", REFS),
    "content/docs/launch/index.md": "---\ntitle: Launch\n---\n",
}


def test_ref_relref_and_param_resolve(tmp_path: Path) -> None:
    changes = with_config('\n[params]\nsocial = { handle = "@shop" }\n', REF_FILES)
    _, files = build(write_site(tmp_path, changes))
    paragraph = html(files, "blog/refs/index.html").main.find_all("p")[-1]
    assert [link["href"] for link in paragraph.find_all("a")] == [
        "/blog/first/",
        "https://shop.example/blog/second/#more",
        "/pricing/",
        "/docs/launch/",  # a file name found once on the site: the bundle
        "/blog/refs/#top",
    ]
    assert paragraph.text.endswith("Support: 9 to 5 <CET>; @shop.")  # escaped in the HTML
    assert "9 to 5 &lt;CET&gt;" in files["blog/refs/index.html"].decode()


def test_an_unknown_ref_names_the_line_and_the_closest_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changes = {
        "content/blog/refs.md": post(
            "date: 2026-02-01\n", 'One.\n\n[x]({{< relref "blog/frist.md" >}})\n'
        ),
        "content/blog/params.md": post("date: 2026-02-02\n", "{{< param nosuch >}}\n"),
    }
    text = error_of(write_site(tmp_path, changes), monkeypatch)
    assert (
        "content/blog/params.md:5: no param 'nosuch' in the page's front matter or in [params] "
        "of site.toml" in text
    )
    assert (
        "content/blog/refs.md:7: relref target 'blog/frist.md' is no page\n"
        "  hint: did you mean 'content/blog/first.md'? a target is a file under content/"
    ) in text


def test_renaming_a_referred_page_renders_the_referring_page_again(tmp_path: Path) -> None:
    root = write_site(tmp_path, REF_FILES | with_config('\n[params]\nsocial = { handle = "@a" }\n'))
    context = BuildContext()
    build(root, context=context)
    (root / "content/docs/launch/index.md").write_text(
        "---\ntitle: Launch\nslug: go-live\n---\n", encoding="utf-8"
    )
    _, files = build(root, context=context)
    links = [a["href"] for a in html(files, "blog/refs/index.html").main.find_all("a")]
    assert "/docs/go-live/" in links
    assert files == build(root, clean=True)[1]
    # [params] changes re-render only the pages whose shortcodes read it.
    (root / "site.toml").write_text(
        with_config('\n[params]\nsocial = { handle = "@b" }\n')["site.toml"], encoding="utf-8"
    )
    report, files = build(root, context=context)
    assert "@b." in html(files, "blog/refs/index.html").main.text
    assert report.rendered < report.pages
    assert files == build(root, clean=True)[1]
