"""The CLI takes the last good build's site plan from the cache file only after body edits.

A context made for one build (the CLI's) finds the plan (launchkit.site.siteplan) of the last
build into its folder in the cache file, with the stamps of the source files that build
began with. When only pages' bodies and templates changed since, the build takes it
(``report.planned`` is False), unless a template edit changed what the plan read of the
templates (which files there are, whether a section's index template paginates); any other
change (front matter, a page added or deleted, static/, the config, the code, the clock
passing a post's date, another output folder, a published file touched, a build of another
kind in between) plans the site afresh. Either way the output and warnings are a clean
build's. The preview, told what changed, keeps its plan in memory by the same rules.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from build_support import FILES, ROOT, snapshot, write_site
from test_incremental_builds import EDITS, apply, settle

from launchkit.config import load_config
from launchkit.site.builder import BuildReport, build_site
from launchkit.site.context import BuildContext
from launchkit.site.store import Store

BODY = "content/blog/first.md"
IGNORED = shutil.ignore_patterns("__pycache__")


def build(root: Path, out: str = "public", **options) -> BuildReport:
    """A CLI-like build: a context made for it, told of no change."""
    context = options.pop("context", None) or BuildContext(one_build=True)
    return build_site(load_config(root / "site.toml"), root / out, context=context, **options)


def edit_body(root: Path, words: str = "More") -> None:
    """Append a paragraph to a post: its body changes, nothing else."""
    path = root / BODY
    path.write_text(path.read_text(encoding="utf-8") + f"\n{words}.\n", encoding="utf-8")


def assert_clean(root: Path, report: BuildReport, out: str = "public", **options) -> None:
    """The output of ``report``'s build, and its warnings, are a clean build's."""
    clean = build_site(load_config(root / "site.toml"), root / "clean", clean=True, **options)
    assert snapshot(root / out) == snapshot(root / "clean")
    assert report.warnings == clean.warnings
    assert report.notes == clean.notes
    shutil.rmtree(root / "clean")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The fixture site, settled and built once (which planned it)."""
    root = write_site(tmp_path, {"content/broken.md": "---\ntitle: B\n---\n[x](/nowhere/)\n"})
    settle(root)
    assert build(root).planned
    return root


def test_a_body_edit_takes_the_kept_plan(root: Path) -> None:
    edit_body(root)  # fresh: built at once, as a user does
    report = build(root)
    assert not report.planned
    assert report.rendered == 2  # the post and the blog index showing its summary
    assert_clean(root, report)
    assert any("/nowhere/" in str(warning) for warning in report.warnings)
    # The edited file was too fresh to be trusted by its stamp: the next build reads it
    # again, and still takes the plan.
    report = build(root)
    assert not report.planned
    assert_clean(root, report)
    edit_body(root, "Again")
    report = build(root)
    assert not report.planned
    assert_clean(root, report)


# The edits of templates only (their text: no file added or removed, no pagination changed).
TEMPLATE_EDITS = ("template comment", "template output", "partial")


@pytest.mark.parametrize("case", TEMPLATE_EDITS)
def test_a_template_edit_takes_the_kept_plan(root: Path, case: str) -> None:
    edit_body(root)
    apply(root, case)
    date_back(root, EDITS[case][0])
    report = build(root)
    assert not report.planned, case
    assert_clean(root, report)
    edit_body(root, "Then")
    report = build(root)
    assert not report.planned
    assert report.rendered == 2  # the post and the blog index: the plan's needs are current
    assert_clean(root, report)


@pytest.mark.parametrize(
    "case", [case for case in EDITS if case not in ("page body", *TEMPLATE_EDITS)]
)
def test_every_other_edit_plans_the_site(root: Path, case: str) -> None:
    edit_body(root)  # with a body edit too, which alone would take the plan
    apply(root, case)
    date_back(root, EDITS[case][0])  # else too fresh to be trusted: planned again next time
    report = build(root)
    assert report.planned, case
    assert_clean(root, report)
    edit_body(root, "Then")
    assert not build(root).planned  # the new plan is kept in turn


PAGINATED_BLOG = (
    '{% extends "base.html" %}\n{% block content %}'
    "{% for post in paginator.pages %}<p>{{ post.title }}</p>{% endfor %}{% endblock %}\n"
)


def test_a_template_that_starts_or_stops_paginating_plans_the_site(tmp_path: Path) -> None:
    """Whether the blog's template reads ``paginator`` decides whether the blog is a list
    of pages of one post each (``page_size = 1``): the plan's lists. An edit that keeps
    it reading ``paginator`` keeps the plan."""
    config = FILES["site.toml"].replace("[site]\n", "[site]\npage_size = 1\n", 1)
    root = write_site(tmp_path, {"site.toml": config, "templates/blog.html": PAGINATED_BLOG})
    settle(root)
    assert build(root).planned
    second_page = root / "public/blog/page/2/index.html"
    assert second_page.is_file()
    blog = root / "templates/blog.html"
    for text, paginated, planned in (
        (FILES["templates/blog.html"], False, True),  # section_pages(): no paginator
        (PAGINATED_BLOG, True, True),
        (PAGINATED_BLOG.replace("<p>", "<p class='x'>"), True, False),
    ):
        blog.write_text(text, encoding="utf-8")
        date_back(root, {"templates/blog.html": text})
        report = build(root)
        assert report.planned is planned
        assert second_page.is_file() is paginated
        assert_clean(root, report)


def test_a_template_edit_that_changes_what_pages_need_keeps_the_plan_current(
    root: Path,
) -> None:
    """page.html starts showing the catalogue (its pages need ``config:products``): the
    plan taken keeps what each document needs now, in the cache file too, so that the
    next body edit makes only the pages it feeds again (not those whose needs the kept
    plan would miss)."""
    page = root / "templates/page.html"
    text = '{% extends "base.html" %}\n{% block content %}{{ products | length }}'
    page.write_text(text + "{{ page.content }}{% endblock %}\n", encoding="utf-8")
    date_back(root, {"templates/page.html": ""})
    report = build(root)
    assert not report.planned
    assert report.rendered > 2
    assert_clean(root, report)
    edit_body(root)
    report = build(root)
    assert not report.planned
    assert report.rendered == 2  # the post and the blog index
    assert_clean(root, report)


def test_the_preview_keeps_its_plan_across_template_edits(tmp_path: Path) -> None:
    """The preview names the template it saw change: its plan is kept while what the plan
    read of the templates holds; a template added (a taxonomy's: its pages are built now)
    plans the site. Each body edit after a template edit finds the pages needing it."""
    tagged = "---\ntitle: Tagged\ndate: 2026-02-03\ntags: [launch]\n---\nTagged words.\n"
    partials = [f"partials/{name}.html" for name in ("post_list", "pagination", "post_tags")]
    shipped = {f"templates/{name}": (ROOT / "templates" / name).read_text() for name in partials}
    root = write_site(tmp_path, {"content/blog/tagged.md": tagged, **shipped})
    context = BuildContext()
    config = load_config(root / "site.toml")

    def preview(*changed: Path) -> BuildReport:
        report = build_site(config, root / "public", context=context, changed=changed)
        assert_clean(root, report)
        return report

    first = preview()
    assert any("no term.html" in str(warning) for warning in first.warnings)
    second = root / "content/blog/second.md"
    second.write_text(FILES["content/blog/second.md"] + "\nA body edit.\n", "utf-8")
    assert not preview(second).planned  # (the plan's index of what needs what is made)
    page = root / "templates/page.html"
    page.write_text(
        '{% extends "base.html" %}\n{% block content %}{% for p in pages %}{{ p.summary }}'
        "{% endfor %}{% endblock %}\n",
        encoding="utf-8",
    )
    assert not preview(page).planned
    # Its summary (its first paragraph), which the pages of page.html show now.
    second.write_text(FILES["content/blog/second.md"].replace("More.", "Other."), "utf-8")
    assert not preview(second).planned
    added = [root / "templates/term.html", root / "templates/taxonomy.html"]
    for path in added:
        shutil.copy(ROOT / "templates" / path.name, path)
    report = preview(*added)
    assert report.planned
    assert (root / "public/tags/launch/index.html").is_file()
    assert not any("no term.html" in str(warning) for warning in report.warnings)


def date_back(root: Path, files: dict[str, str | None]) -> None:
    """Date the files an edit wrote a minute back: settled, as an edit made a while ago."""
    past = time.time_ns() - 60 * 10**9
    for relative, text in files.items():
        if text is not None:
            os.utime(root / relative, ns=(past, past))


def test_a_post_coming_of_age_plans_the_site(tmp_path: Path) -> None:
    later = "---\ntitle: Later\ndate: 2030-01-01\n---\nSoon.\n"
    root = write_site(tmp_path, {"content/blog/later.md": later})
    settle(root)
    before, after = (dt.datetime(2029, 12, d, tzinfo=dt.UTC) for d in (30, 31))
    assert build(root, now=before).planned
    edit_body(root)
    assert not build(root, now=after).planned
    edit_body(root, "Again")
    new_year = dt.datetime(2030, 1, 2, tzinfo=dt.UTC)
    report = build(root, now=new_year)
    assert report.planned
    assert (root / "public/blog/later/index.html").is_file()
    assert_clean(root, report, now=new_year)
    # A clock set back before the plan's own: the post is not published yet then.
    edit_body(root, "Back")
    report = build(root, now=after)
    assert report.planned
    assert not (root / "public/blog/later").exists()
    assert_clean(root, report, now=after)


def test_a_code_change_plans_the_site(root: Path, tmp_path: Path) -> None:
    package = tmp_path / "package"
    shutil.copytree(ROOT / "launchkit", package, ignore=shutil.ignore_patterns("__pycache__"))
    edit_body(root)
    assert not build(root, context=BuildContext(code_root=package, one_build=True)).planned
    lists = package / "site" / "lists.py"
    lists.write_text(lists.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    edit_body(root, "Again")
    assert build(root, context=BuildContext(code_root=package, one_build=True)).planned


def test_each_output_folder_has_its_own_plan(root: Path) -> None:
    edit_body(root)
    report = build(root, "other")
    assert report.planned  # no build into it yet
    assert_clean(root, report, "other")
    edit_body(root, "Again")
    report = build(root)  # two body edits since the plan of public/
    assert not report.planned
    assert_clean(root, report)
    assert not build(root, "other").planned


def test_published_files_touched_since_are_made_again(root: Path) -> None:
    (root / "public/sitemap.xml").unlink()
    edit_body(root)
    report = build(root)
    assert report.planned  # the plan's files are not all there: staged again
    assert_clean(root, report)
    (root / "public/index.html").write_bytes(b"defaced")  # a page document: checked anyway
    edit_body(root, "Again")
    report = build(root)
    assert not report.planned
    assert_clean(root, report)


def test_a_preview_build_in_between_drops_the_plan(root: Path) -> None:
    """A build that keeps no plan (the preview's) leaves a record the kept plan does not
    go with: the menu entry it saw is undone, and no stamp says so against the record."""
    about = root / "content/about-us.md"
    preview = BuildContext()
    build(root, context=preview)
    about.write_text(EDITS["menu"][0]["content/about-us.md"], encoding="utf-8")
    build(root, context=preview, changed=[about])
    about.write_text(FILES["content/about-us.md"], encoding="utf-8")
    edit_body(root)
    report = build(root)
    assert report.planned
    assert_clean(root, report)


def test_a_failed_build_keeps_the_last_good_plan(root: Path) -> None:
    buy = root / "content/buy.md"
    good = buy.read_text(encoding="utf-8")
    buy.write_text(good + "\n{{< buy nosuch >}}\n", encoding="utf-8")
    with pytest.raises(Exception, match="nosuch"):
        build(root)
    buy.write_text(good, encoding="utf-8")
    edit_body(root)
    report = build(root)
    assert not report.planned
    assert_clean(root, report)


def test_the_bodies_warnings_of_the_builds_since_the_plan_are_kept(root: Path) -> None:
    """A body warning added by a build that took the plan is still reported by the next
    one, which takes the plan as its own build left it."""
    about = root / "content/about-us.md"
    about.write_text(FILES["content/about-us.md"] + "\n{% include signup.html %}\n", "utf-8")
    date_back(root, {"content/about-us.md": ""})  # settled: the next build does not read it
    first = build(root)
    assert not first.planned
    assert any("Liquid" in str(warning) for warning in first.warnings)
    edit_body(root)
    report = build(root)
    assert not report.planned
    assert report.warnings == first.warnings
    assert_clean(root, report)


def spoil_pages(root: Path) -> None:
    """Make every page row's page unreadable in the cache file (the rest of each row, and
    the plan, stay as they are)."""
    with closing(sqlite3.connect(root / ".cache/build/cache.sqlite3")) as db, db:
        db.execute("UPDATE pages SET page = x'00'")


def test_a_build_taking_the_plan_takes_its_pages_from_it(root: Path) -> None:
    """The cache file's page entries come without their pages: a build taking the plan
    takes them from the plan, which holds every page it was made from. One planning the
    site unpickles them, and reads again a page whose row it cannot read."""
    spoil_pages(root)
    edit_body(root)
    report = build(root)
    assert not report.planned
    assert_clean(root, report)  # (its clean build writes the rows again)
    spoil_pages(root)
    apply(root, "page title")
    report = build(root)
    assert report.planned
    assert_clean(root, report)
    edit_body(root, "Then")
    assert not build(root).planned


def test_a_cache_file_of_an_older_format_is_started_afresh(tmp_path: Path) -> None:
    """A cache file of format 8 (its page entries one pickle each): its tables are made
    anew, the build reads and renders everything, and the next edit takes its plan."""
    root = write_site(tmp_path)
    settle(root)
    folder = root / ".cache/build"
    folder.mkdir(parents=True)
    with closing(sqlite3.connect(folder / "cache.sqlite3")) as db, db:
        db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB)")
        db.execute("CREATE TABLE pages (path TEXT PRIMARY KEY, entry BLOB)")
        db.execute("INSERT INTO meta VALUES ('format', 8)")
        db.execute("INSERT INTO pages VALUES (?, ?)", (str(root / BODY), b"an old entry"))
    report = build(root)
    assert report.planned
    assert report.rendered == report.pages
    assert_clean(root, report)
    edit_body(root)
    report = build(root)
    assert not report.planned
    assert_clean(root, report)


def built(root: Path, code: Path) -> tuple[int, int]:
    """Build the site with ``code``'s build.py and launchkit in a process of its own, as a
    user would after a change of launchkit; the pages built and rendered."""
    done = subprocess.run(
        [sys.executable, str(code / "build.py"), "--config", "site.toml"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = re.search(r"Built (\d+) pages \((\d+) rendered", done.stdout)
    assert found is not None, done.stdout + done.stderr
    return int(found[1]), int(found[2])


def test_a_changed_table_layout_starts_the_cache_afresh_once(tmp_path: Path) -> None:
    """A launchkit whose ``records`` table has one more column, FORMAT untouched: its first
    build starts the cache file afresh (every write would fail on the old table, roll back,
    and every build render everything); the next builds are incremental again. Going back to the
    shipped code starts it afresh once more."""
    root = write_site(tmp_path / "site")
    settle(root)
    shipped, changed = tmp_path / "shipped", tmp_path / "changed"
    for code in (shipped, changed):
        shutil.copytree(ROOT / "launchkit", code / "launchkit", ignore=IGNORED)
        shutil.copy(ROOT / "build.py", code)
    store = changed / "launchkit/site/store.py"
    text = store.read_text(encoding="utf-8")
    for old, new in (
        (
            "records (folder TEXT PRIMARY KEY, entry BLOB)",
            "records (folder TEXT PRIMARY KEY, entry BLOB, note TEXT)",
        ),
        ("INTO records VALUES (?, ?)", "INTO records VALUES (?, ?, NULL)"),  # and writes it
    ):
        assert text.count(old) == 1
        text = text.replace(old, new)
    store.write_text(text, encoding="utf-8")
    pages, rendered = built(root, shipped)
    assert rendered == pages
    for code, has_note in ((changed, True), (shipped, False)):
        assert built(root, code) == (pages, pages)  # new code, and a cache of another layout
        edit_body(root, f"After {code.name}")
        assert built(root, code) == (pages, 2)  # the post and the blog index
        assert built(root, code) == (pages, 0)
        assert ("note TEXT" in records_layout(root)) is has_note


def records_layout(root: Path) -> str:
    """The ``CREATE`` statement of the cache file's ``records`` table."""
    with closing(sqlite3.connect(root / ".cache/build/cache.sqlite3")) as db:
        return db.execute("SELECT sql FROM sqlite_master WHERE name = 'records'").fetchone()[0]


def test_a_cache_file_with_an_index_of_its_own_is_started_afresh_once(tmp_path: Path) -> None:
    """The layout compared at open is every table and index: a file with an index that
    launchkit's statements do not make is another layout, started afresh once."""
    path = tmp_path / "cache.sqlite3"
    body = {"key": ("<p>Body</p>", "", ())}
    with closing(Store(path)) as store:
        store.write(bodies=body)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE INDEX by_entry ON bodies (entry)")
    with closing(Store(path)) as store:
        assert store.body_keys() == set()
        store.write(bodies=body)
    with closing(Store(path)) as store:
        assert store.body_keys() == {"key"}
