"""A checked front matter: typed keys, near misses refused with `path:line`, the rest kept.

Fixtures are written as imported Hugo and Jekyll posts are: quoted ISO datetimes, Jekyll's
``2019-12-10 07:00:00 +0100``, theme fields such as ``author_staff_member`` and ``images``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2
import pytest
from bs4 import BeautifulSoup
from build_support import parse_xml, snapshot, write_site

from launchkit.config import load_config
from launchkit.errors import SiteError
from launchkit.site.builder import BuildReport, build_site
from launchkit.site.frontmatter import known_key_meant, parse_moment
from launchkit.site.template_usage import (
    TemplateUsage,
    page_keys_read,
    unused_params,
    used_keys,
)

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
POST = "---\ntitle: Launch day\n{front}---\n{body}"
REPO_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def post(front: str, body: str = "We shipped.\n") -> str:
    return POST.format(front=front, body=body)


def build(root: Path, **options) -> tuple[BuildReport, dict[str, bytes]]:
    report = build_site(load_config(root / "site.toml"), root / "public", now=NOW, **options)
    return report, snapshot(root / "public")


def build_error(root: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The text the CLI would print for the build's error, paths relative to the site."""
    monkeypatch.chdir(root)
    with pytest.raises(SiteError) as caught:
        build(root)
    return str(caught.value)


def soup(files: dict[str, bytes], name: str) -> BeautifulSoup:
    return BeautifulSoup(files[name], "html.parser")


def with_repo_templates(changes: dict[str, str] | None = None) -> dict[str, str]:
    """The repository's own templates (meta partial, draft banner) over the fixture's."""
    files = {
        path.relative_to(REPO_TEMPLATES.parent).as_posix(): path.read_text(encoding="utf-8")
        for path in REPO_TEMPLATES.rglob("*.html")
    }
    return {**files, **(changes or {})}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("drafts: true", "content/blog/launch.md:3: `drafts`: did you mean `draft`?"),
        ("templte: page", "content/blog/launch.md:3: `templte`: did you mean `template`?"),
        ("descripton: Big", "content/blog/launch.md:3: `descripton`: did you mean `description`?"),
        ("Date: 2026-01-05", "content/blog/launch.md:3: `Date`: did you mean `date`?"),
        ("menu-order: 3", "content/blog/launch.md:3: `menu-order`: did you mean `menu_order`?"),
        ("alias: [/old/]", "content/blog/launch.md:3: `alias`: did you mean `aliases`?"),
    ],
)
def test_near_miss_of_a_known_key_is_an_error_naming_the_key_meant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, message: str
) -> None:
    root = write_site(tmp_path, {"content/blog/launch.md": post(f"{line}\n")})
    text = build_error(root, monkeypatch)
    assert text.splitlines()[0] == message
    assert "hint: " in text


@pytest.mark.parametrize("line", ["alias: true", "drafts: {by: me}", "titel: [a, b]"])
def test_a_near_miss_with_a_value_the_key_cannot_take_is_a_field_of_ones_own(
    tmp_path: Path, line: str
) -> None:
    """Hugo's own docs mark glossary terms 'alias: true' (aliases are URLs): a field of the
    author's, kept in the page's params, noted as read by no template; not a typo."""
    root = write_site(tmp_path, {"content/blog/launch.md": post(f"date: 2026-02-01\n{line}\n")})
    report, _ = build(root)
    key = line.split(":")[0]
    assert any(f"`{key}` in 1 file is used by no template" in note for note in report.notes)


def test_drafts_typo_publishes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_site(tmp_path)
    build(root)
    before = snapshot(root / "public")
    write_site(root, {"content/blog/secret.md": post("date: 2026-02-01\ndrafts: true\n")})
    build_error(root, monkeypatch)
    assert snapshot(root / "public") == before


def test_title_in_capitals_is_a_case_slip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_site(tmp_path, {"content/blog/launch.md": "---\nTitle: Launch\n---\nText.\n"})
    assert build_error(root, monkeypatch) == (
        "content/blog/launch.md:2: `Title`: did you mean `title`?\n"
        "  hint: front matter keys are lower case: write 'title'"
    )


def test_every_problem_of_one_page_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = "---\ntemplte: page\ndate: last tuesday\nmenu_order: first\ndraft: yes please\n---\n"
    root = write_site(tmp_path, {"content/odd.md": page})
    lines = build_error(root, monkeypatch).splitlines()
    problems = [line for line in lines if not line.startswith("  hint:")]
    assert problems == [
        "content/odd.md:1: missing 'title' in front matter",
        "content/odd.md:2: `templte`: did you mean `template`?",
        "content/odd.md:3: 'date' must be a date like 2026-11-02 or 2026-11-02T09:30:00+01:00, "
        "got 'last tuesday'",
        "content/odd.md:4: 'menu_order' must be a whole number, got 'first'",
        "content/odd.md:5: 'draft' must be true or false, got 'yes please'",
        "5 errors: nothing published",
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("tags: {a: 1}", "content/odd.md:3: 'tags' must be a list of text, got {'a': 1}"),
        ("params: [1, 2]", "content/odd.md:3: 'params' must be 'name: value' lines indented"),
        ("slug: a/b", "content/odd.md:3: 'slug' must be letters, digits, '.', '-' or '_'"),
        ("menu: {main: {weight: 3}}", "content/odd.md:3: 'menu' must be the label of the page"),
        ("lastmod: 2026-13-01", "content/odd.md:3: 'lastmod' must be a date like 2026-11-02"),
        ("noindex: 1", "content/odd.md:3: 'noindex' must be true or false, got 1"),
    ],
)
def test_values_of_known_keys_are_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, message: str
) -> None:
    root = write_site(tmp_path, {"content/odd.md": f"---\ntitle: Odd\n{line}\n---\n"})
    assert build_error(root, monkeypatch).startswith(message)


def test_keys_of_hugo_jekyll_and_themes_are_kept_as_page_data(tmp_path: Path) -> None:
    front = (
        "images: [/img/card.png]\nauthor_staff_member: jane\nlayout: post\n"
        "subtitle: Hello\nparams:\n  reading_time: 4\n  author: Jane Roe\n"
        "tags: release\ncategories: [news, product]\ntemplate: article\n"
    )
    template = (
        '{% extends "base.html" %}{% block content %}'
        '<p id="by">{{ page.params.author }} {{ page.params["reading_time"] }} min</p>'
        '<p id="meta">{{ page.meta.get("subtitle") }}</p>'
        '<p id="images">{{ page.params.images | join(",") }}</p>'
        '<p id="tags">{{ page.tags | join(",") }}/{{ page.categories | join(",") }}</p>'
        "{% endblock %}\n"
    )
    root = write_site(
        tmp_path,
        {
            "content/blog/launch.md": post(f"date: 2026-01-05\n{front}"),
            "templates/article.html": template,
        },
    )
    report, files = build(root)
    page = soup(files, "blog/launch/index.html")
    assert page.find(id="by").text == "Jane Roe 4 min"
    assert page.find(id="meta").text == "Hello"
    assert page.find(id="images").text == "/img/card.png"
    assert page.find(id="tags").text == "release/news,product"
    # Read by no template: listed once, with how many files have them.
    assert report.notes == (
        "`author_staff_member` in 1 file is used by no template",
        "`layout` in 1 file is used by no template",
    )


def test_unused_keys_are_counted_over_all_files(tmp_path: Path) -> None:
    posts = {
        f"content/blog/post-{n}.md": post(f"date: 2026-01-{n:02}\nauthor_staff_member: x{n}\n")
        for n in range(1, 4)
    }
    posts["content/blog/post-1.md"] = post("date: 2026-01-01\nauthor_staff_member: a\nmood: ok\n")
    report, _ = build(write_site(tmp_path, posts))
    assert report.notes == (
        "`author_staff_member` in 3 files is used by no template",
        "`mood` in 1 file is used by no template",
    )


@pytest.mark.parametrize(
    ("expression", "used"),
    [
        ("{{ page.params.author }}", {"author"}),
        ('{{ page.params["author"] }}', {"author"}),
        ('{{ page.meta.get("author", "") }}', {"author"}),
        ("{{ page.meta.author }}", {"author"}),
        ("{% for post in pages %}{{ post.params.hero }}{% endfor %}", {"hero"}),
        ("{{ rewardful.params | join(',') }}", set()),  # the config's params, not a page's
        ("{{ config.rewardful.params | join(',') }}", set()),
        ("{{ shortcode.params | list }}", set()),  # a shortcode's named arguments
        ("{{ shortcode.page.params.hero }}", {"hero"}),
        ("{{ page.params[key] }}", None),  # computed: any key may be read
        ("{% for k, v in page.params.items() %}{{ k }}{% endfor %}", None),
        ("{% set data = page.meta %}{{ data.author }}", None),
    ],
)
def test_templates_are_read_for_the_keys_they_use(expression: str, used: set | None) -> None:
    env = jinja2.Environment(autoescape=True)
    assert used_keys([page_keys_read(env.parse(expression))]) == (
        None if used is None else frozenset(used)
    )


def test_no_summary_when_a_template_reads_keys_it_computes() -> None:
    tree = jinja2.Environment(autoescape=True).parse("{{ page.params[name] }}")

    class Page:
        params = {"author_staff_member": "jane"}

    usage = TemplateUsage.of("digest", lambda: used_keys([page_keys_read(tree)]))
    assert unused_params([Page()], usage.keys) == []
    assert unused_params([Page()], frozenset()) == [
        "`author_staff_member` in 1 file is used by no template"
    ]


def test_a_template_change_refreshes_the_keys_it_uses(tmp_path: Path) -> None:
    moody = {"content/blog/first.md": post("date: 2026-01-02\nmood: ok\n")}
    root = write_site(tmp_path, moody)
    report, _ = build(root)
    assert report.notes == ("`mood` in 1 file is used by no template",)
    comment = '{% extends "base.html" %}{# page.params.mood #}\n'
    report, _ = build(write_site(root, {**moody, "templates/post.html": comment}))
    assert report.notes == ("`mood` in 1 file is used by no template",)  # a comment reads nothing
    shown = (
        '{% extends "base.html" %}{% block content %}{{ page.params.get("mood") }}{% endblock %}\n'
    )
    report, _ = build(write_site(root, {**moody, "templates/post.html": shown}))
    assert report.notes == ()


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("drafts", "draft"),
        ("templte", "template"),
        ("descripton", "description"),
        ("Title", "title"),
        ("TAGS", "tags"),
        ("summery", "summary"),
        ("images", None),  # Hugo's own key
        ("og_description", None),  # a key of its own, not a typo
        ("meta_description", None),
        ("subtitle", None),
        ("author", None),
        ("data", None),
    ],
)
def test_near_miss_cutoff(key: str, meant: str | None) -> None:
    assert known_key_meant(key) == meant


UTC = dt.UTC
PLUS_ONE = dt.timezone(dt.timedelta(hours=1))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-12-10", dt.datetime(2019, 12, 10, tzinfo=UTC)),
        ("'2019-12-10'", dt.datetime(2019, 12, 10, tzinfo=UTC)),
        ("2019-12-10T07:00:00.000Z", dt.datetime(2019, 12, 10, 7, tzinfo=UTC)),
        ("'2019-12-10T07:00:00.000Z'", dt.datetime(2019, 12, 10, 7, tzinfo=UTC)),
        ('"2019-12-10T07:00:00+01:00"', dt.datetime(2019, 12, 10, 7, tzinfo=PLUS_ONE)),
        ("2019-12-10T07:00:00+01:00", dt.datetime(2019, 12, 10, 7, tzinfo=PLUS_ONE)),
        ("2019-12-10 07:00:00 +0100", dt.datetime(2019, 12, 10, 7, tzinfo=PLUS_ONE)),
        ("2019-12-10 07:00", dt.datetime(2019, 12, 10, 7, tzinfo=UTC)),
    ],
)
def test_dates_quoted_or_not_with_time_zones(tmp_path: Path, value: str, expected) -> None:
    import yaml

    parsed = yaml.safe_load(f"date: {value}")["date"]
    assert parse_moment(parsed) == expected
    assert parse_moment(parsed).utcoffset() == expected.utcoffset()
    root = write_site(tmp_path, {"content/blog/launch.md": post(f"date: {value}\n")})
    _, files = build(root)
    assert soup(files, "blog/launch/index.html").time.text == "December 10, 2019"


def test_late_evening_keeps_the_day_it_was_written_on(tmp_path: Path) -> None:
    """23:30 in New York is the next day in UTC; the post still says the 10th."""
    front = "date: '2019-12-10T23:30:00-05:00'\n"
    _, files = build(write_site(tmp_path, {"content/blog/launch.md": post(front)}))
    assert soup(files, "blog/launch/index.html").time.text == "December 10, 2019"


def test_lastmod_feeds_the_sitemap(tmp_path: Path) -> None:
    front = "date: 2026-01-05\nlastmod: '2026-03-09T10:00:00Z'\n"
    _, files = build(write_site(tmp_path, {"content/blog/launch.md": post(front)}))
    namespace = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    lastmods = {
        url.findtext("s:loc", namespaces=namespace): url.findtext("s:lastmod", namespaces=namespace)
        for url in parse_xml(files["sitemap.xml"]).findall("s:url", namespace)
    }
    assert lastmods["https://shop.example/blog/launch/"] == "2026-03-09"
    assert lastmods["https://shop.example/blog/first/"] == "2026-01-02"  # date, no lastmod


LONG = (
    "Beacon now checks every monitor from six regions and only pages you when at least two of "
    "them agree, which cut false alarms by ninety percent for the teams in our beta programme."
)


@pytest.mark.parametrize(
    ("body", "summary"),
    [
        ("![cover](cover.png)\n\nFirst *real* paragraph.\n\nSecond.\n", "First real paragraph."),
        ("Intro line one\nline two.\n\n<!--more-->\n\nRest.\n", "Intro line one line two."),
        ("Above.\n\nAlso above.\n\n<!--more-->\n\nBelow.\n", "Above. Also above."),
        ("## Heading\n\nText &amp; more.\n", "Text & more."),
        (
            f"{LONG}\n",
            "Beacon now checks every monitor from six regions and only pages you when at least "
            "two of them agree, which cut false alarms by ninety percent for the teams in…",
        ),
    ],
)
def test_description_falls_back_to_the_pages_summary(
    tmp_path: Path, body: str, summary: str
) -> None:
    changes = with_repo_templates({"content/blog/launch.md": post("date: 2026-01-05\n", body)})
    _, files = build(write_site(tmp_path, changes))
    head = soup(files, "blog/launch/index.html").head
    assert head.find("meta", attrs={"name": "description"})["content"] == summary
    assert head.find("meta", property="og:description")["content"] == summary
    assert len(summary) <= 160
    feed = parse_xml(files["blog/feed.xml"])
    entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
    launch = next(entry for entry in entries if entry.findtext("{*}title") == "Launch day")
    assert launch.findtext("{http://www.w3.org/2005/Atom}summary") == summary


def test_no_text_no_description_never_the_tagline(tmp_path: Path) -> None:
    changes = with_repo_templates({"content/blog/launch.md": post("date: 2026-01-05\n", "")})
    _, files = build(write_site(tmp_path, changes))
    head = soup(files, "blog/launch/index.html").head
    assert head.find("meta", attrs={"name": "description"}) is None
    assert "A shop." not in str(head)


def test_own_description_and_summary_win(tmp_path: Path) -> None:
    front = "date: 2026-01-05\ndescription: Ours.\n"
    changes = with_repo_templates({"content/blog/launch.md": post(front, "Body text.\n")})
    _, files = build(write_site(tmp_path, changes))
    head = soup(files, "blog/launch/index.html").head
    assert head.find("meta", attrs={"name": "description"})["content"] == "Ours."
    changes = {"content/blog/launch.md": post("date: 2026-01-05\nsummary: Told.\n", "Body.\n")}
    _, files = build(write_site(tmp_path, with_repo_templates(changes)))
    head = soup(files, "blog/launch/index.html").head
    assert head.find("meta", attrs={"name": "description"})["content"] == "Told."


TOML_POST = """\
+++
title = "Launch day"
date = 2019-12-10T07:00:00Z
tags = ["release"]
template = "article"
[params]
author = "Jane Roe"
+++
We shipped.
"""


def test_hugo_toml_front_matter(tmp_path: Path) -> None:
    template = (
        '{% extends "base.html" %}{% block content %}<p id="by">{{ page.params.author }}</p>'
        '<time>{{ page.date | format_date }}</time><p id="tags">{{ page.tags | join(",") }}</p>'
        "{% endblock %}\n"
    )
    changes = {"content/blog/launch.md": TOML_POST, "templates/article.html": template}
    _, files = build(write_site(tmp_path, changes))
    page = soup(files, "blog/launch/index.html")
    assert page.find(id="by").text == "Jane Roe"
    assert page.time.text == "December 10, 2019"
    assert page.find(id="tags").text == "release"


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            '+++\ntitle = "Launch"\ndate = tomorrow\n+++\n',
            "content/blog/launch.md:3: front matter is not valid TOML: Invalid value\n"
            '  hint: write each field as key = value, text in quotes: title = "Launch day"',
        ),
        (
            '+++\ntitle = "Launch"\ndrafts = true\n+++\n',
            "content/blog/launch.md:3: `drafts`: did you mean `draft`?",
        ),
        (
            '+++\ntitle = "Launch"\n',
            "content/blog/launch.md:1: front matter is not closed\n"
            "  hint: add a '+++' line after it",
        ),
        (
            '{\n  "title": "Launch"\n}\nText.\n',
            "content/blog/launch.md:1: front matter in JSON: launchkit reads YAML between '---' "
            "lines\n  hint: convert it to YAML ('hugo convert toYAML' does a whole Hugo site)",
        ),
    ],
)
def test_toml_and_json_front_matter_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str, expected: str
) -> None:
    root = write_site(tmp_path, {"content/blog/launch.md": page})
    assert build_error(root, monkeypatch).startswith(expected)


def test_jekyll_post_dated_by_its_file_name(tmp_path: Path) -> None:
    changes = {
        "content/blog/2013-05-06-jekyll-1-0-0-released.markdown": "---\ntitle: Released\n---\n",
        "content/blog/2013-13-45-not-a-date.md": "---\ntitle: Odd\ntemplate: page\n---\nText.\n",
        "content/blog/2014-01-02-dated-anyway.md": post("date: 2014-03-04\n"),
    }
    _, files = build(write_site(tmp_path, changes))
    released = soup(files, "blog/2013-05-06-jekyll-1-0-0-released/index.html")
    assert released.time.text == "May 6, 2013"
    assert soup(files, "blog/2014-01-02-dated-anyway/index.html").time.text == "March 4, 2014"
    feed = files["blog/feed.xml"].decode()
    assert "2013-05-06-jekyll-1-0-0-released" in feed
    assert "not-a-date" not in feed  # no date: a page, not a post
