"""Preview rebuilds with the last build's site plan: each pass looks at the change only.

A body edit the preview names (``build_site(changed=...)``) reuses the site plan
(:mod:`launchkit.site.siteplan`); the cache layer then finds the documents to make from the
plan's index of what needs what, judges the links of those documents only, and writes back
only their rows. Each test here fails when one of these shortcuts skips something it must
not: a list page showing the edited post, another page's link warning, a row of the cache
file.
"""

from __future__ import annotations

import operator
from pathlib import Path
from types import SimpleNamespace

from build_support import FILES, snapshot, write_site

from launchkit.config import load_config
from launchkit.site.builder import BuildReport, build_site
from launchkit.site.context import BuildContext
from launchkit.site.render import ListedPages

# The blog index lists its posts' summaries (a paginated list: the identity list:<page>).
SUMMARIES = {
    "templates/blog.html": (
        '{% extends "base.html" %}\n{% block content %}'
        "{% for post in paginator.pages %}<p>{{ post.summary }}</p>{% endfor %}"
        "{% endblock %}\n"
    ),
}
SECOND = "content/blog/second.md"  # no description: its summary is its first paragraph


def preview_build(root: Path, context: BuildContext, changed: set[Path] | None = None):
    """A build as the preview makes it: one context for its life, told what changed."""
    config = load_config(root / "site.toml")
    return build_site(config, root / "public", preview=True, context=context, changed=changed)


def clean_build(root: Path) -> BuildReport:
    """A clean build of the same tree, with the preview's settings, into ``clean/``."""
    config = load_config(root / "site.toml")
    return build_site(config, root / "clean", preview=True, clean=True)


def edit(root: Path, relative: str, text: str) -> set[Path]:
    path = root / relative
    path.write_text(text, encoding="utf-8")
    return {path}


def test_a_body_edit_makes_the_list_pages_showing_its_summary_again(tmp_path: Path) -> None:
    root = write_site(tmp_path, SUMMARIES)
    context = BuildContext()
    preview_build(root, context)
    text = FILES[SECOND].replace("More.", "A new first paragraph.")
    report = preview_build(root, context, edit(root, SECOND, text))
    assert context.plan is not None and context.plan.dependents is not None  # the plan's way
    assert report.rendered == 2  # the post and the blog index showing its summary
    index = (root / "public/blog/index.html").read_text(encoding="utf-8")
    assert "A new first paragraph." in index
    clean_build(root)
    assert snapshot(root / "public") == snapshot(root / "clean")


def test_link_warnings_of_pages_not_judged_again_are_kept(tmp_path: Path) -> None:
    broken = FILES["content/about-us.md"] + "\n[old](/gone/)\n"
    root = write_site(tmp_path, {"content/about-us.md": broken})
    context = BuildContext()
    first = preview_build(root, context)
    assert [Path(warning.path).name for warning in first.warnings] == ["about-us.md"]
    text = FILES[SECOND] + "\n[new](/missing/)\n"
    report = preview_build(root, context, edit(root, SECOND, text))
    assert report.rendered < first.rendered  # not every page was judged again
    assert report.warnings == clean_build(root).warnings
    assert {Path(warning.path).name for warning in report.warnings} == {"about-us.md", "second.md"}
    report = preview_build(root, context, edit(root, SECOND, FILES[SECOND]))
    assert report.warnings == first.warnings


def test_what_a_plan_rebuild_learnt_reaches_the_cache_file(tmp_path: Path) -> None:
    """A new context (a restarted preview, the CLI) reads the rows the plan's rebuild wrote:
    the edited page's value and its document's file. A row left out would make it again."""
    root = write_site(tmp_path, SUMMARIES)
    context = BuildContext()
    preview_build(root, context)
    preview_build(root, context, edit(root, SECOND, FILES[SECOND] + "\nMore text.\n"))
    assert context.plan is not None and context.plan.dependents is not None
    report = preview_build(root, BuildContext())
    assert (report.rendered, report.markdown_rendered) == (0, 0)
    clean_build(root)
    assert snapshot(root / "public") == snapshot(root / "clean")


def test_listed_pages_behave_as_the_list_they_stand_for() -> None:
    """The template global ``pages`` wraps each page when a template reaches it."""
    pages = [SimpleNamespace(source=f"p{n}.md", title=f"P{n}") for n in range(5)]
    listed = ListedPages(pages, lambda page: page)  # type: ignore[arg-type]
    assert len(listed) == 5
    assert [page.title for page in listed] == ["P0", "P1", "P2", "P3", "P4"]
    assert (listed[0].title, listed[-1].title) == ("P0", "P4")
    assert [page.title for page in listed[1:3]] == ["P1", "P2"]
    assert listed[2] is listed[2]  # made once: its HTML and summary too
    joined = operator.add(listed, [SimpleNamespace(title="X")])  # {{ pages + [x] }}
    assert [page.title for page in joined][-2:] == ["P4", "X"]
    assert next(reversed(listed)).title == "P4"


def test_what_the_bodies_warn_about_follows_each_edit(tmp_path: Path) -> None:
    """The bodies' warnings (Liquid shown as text) and the notes on unused front matter are
    the last build's while no page read again warns or did: each edit below must show."""
    about = "---\ntitle: About\nslug: team\nauthor_x: Ann\n---\n{% include old.html %}\n"
    root = write_site(tmp_path, {"content/about-us.md": about})
    context = BuildContext()
    first = preview_build(root, context)
    assert [Path(warning.path).name for warning in first.warnings] == ["about-us.md"]
    assert any("author_x" in note for note in first.notes)
    for text in (
        FILES[SECOND] + "\nPlain words.\n",
        FILES[SECOND] + "\n{% include new.html %}\n",
        FILES[SECOND],
    ):
        report = preview_build(root, context, edit(root, SECOND, text))
        clean = clean_build(root)
        assert (report.warnings, report.notes) == (clean.warnings, clean.notes)
    assert report.warnings == first.warnings


def test_the_published_files_row_follows_each_build(tmp_path: Path) -> None:
    """The list of published files is written again only when it changed: a build in a new
    context deletes what the last build published, so each change of it must be kept."""
    root = write_site(tmp_path)
    config = load_config(root / "site.toml")
    build_site(config, root / "public", context=BuildContext())
    edit(root, "content/blog/third.md", "---\ntitle: Third\ndate: 2026-06-01\n---\nNew.\n")
    build_site(config, root / "public", context=BuildContext())
    assert (root / "public/blog/third/index.html").is_file()
    (root / "content/blog/third.md").unlink()
    build_site(config, root / "public", context=BuildContext())
    build_site(config, root / "clean", clean=True)
    assert snapshot(root / "public") == snapshot(root / "clean")
