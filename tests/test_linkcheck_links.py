"""The link checker: broken internal links and anchors are warnings at ``path:line``."""

from __future__ import annotations

from pathlib import Path

from build_support import BASE, ROOT, run_build, snapshot, write_site

from launchkit.config import load_config
from launchkit.site.builder import build_site
from launchkit.site.linkcheck import extract_links

# Line numbers of the body below: the front matter takes lines 1-3.
LINKS_PAGE = """\
---
title: Links
---
Fine: [pricing](/pricing/), [its pro section](/pricing/#pro), [home](https://shop.example/),
[the chart](../blog/chart.svg), [elsewhere](https://example.org/nope/), [mail](mailto:a@b.c),
[a heading](#details) and [the top](#top).

Broken: [gone](/gone/) here.

And [a missing anchor](/pricing/#enterprise).

Absolute but missing: [old page](https://shop.example/old-page/).

## Details

[Relative and missing](../nowhere.html)
"""


def build(root: Path, **options):
    return build_site(load_config(root / "site.toml"), root / "public", **options)


def shown(root: Path, report) -> list[str]:
    """The report's warnings as the CLI prints them when run in ``root``."""
    return [str(warning).removeprefix(f"{root}/") for warning in report.warnings]


def test_broken_links_are_warnings_at_their_lines(tmp_path: Path) -> None:
    root = write_site(tmp_path, {"content/links.md": LINKS_PAGE})
    report = build(root)
    assert shown(root, report) == [
        "content/links.md:8: warning: broken link /gone/: no /gone/ in the built site",
        "content/links.md:10: warning: broken link /pricing/#enterprise: "
        "/pricing/ has no element with id 'enterprise'",
        "content/links.md:12: warning: broken link https://shop.example/old-page/: "
        "no /old-page/ in the built site",
        "content/links.md:16: warning: broken link ../nowhere.html: "
        "no /nowhere.html in the built site",
    ]
    assert (root / "public/links/index.html").is_file()  # warnings publish anyway


def test_a_broken_link_in_a_template_names_the_template(tmp_path: Path) -> None:
    base = BASE.replace("<main>", '<a href="/legal/">Legal</a>\n<main>')
    root = write_site(tmp_path, {"templates/base.html": base})
    assert shown(root, build(root)) == [
        "templates/base.html:15: warning: broken link /legal/: no /legal/ in the built site"
    ]


def test_cli_prints_warnings_and_strict_fails_without_publishing(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    assert run_build(root).returncode == 0
    before = snapshot(root / "public")
    write_site(root, {"content/links.md": LINKS_PAGE})

    strict = run_build(root, "--strict")
    assert strict.returncode == 1
    assert "content/links.md:8: warning: broken link /gone/" in strict.stderr
    assert "4 broken link(s) and --strict: nothing published" in strict.stderr
    assert "Traceback" not in strict.stderr and strict.stdout == ""
    assert snapshot(root / "public") == before

    lenient = run_build(root)
    assert lenient.returncode == 0
    assert lenient.stderr.count("warning: broken link") == 4
    assert (root / "public/links/index.html").is_file()


def test_warnings_come_back_on_a_rebuild_from_cache(tmp_path: Path) -> None:
    root = write_site(tmp_path, {"content/links.md": LINKS_PAGE})
    first = build(root)
    again = build(root)
    assert again.rendered == 0
    assert again.warnings == first.warnings


def test_fixing_the_target_clears_the_warning(tmp_path: Path) -> None:
    root = write_site(tmp_path, {"content/links.md": "---\ntitle: L\n---\n[gone](/gone/)\n"})
    assert len(build(root).warnings) == 1
    write_site(root, {"content/gone.md": "---\ntitle: Gone no more\n---\n"})
    assert build(root).warnings == ()


def test_the_example_site_has_no_broken_links(tmp_path: Path) -> None:
    report = build_site(load_config(ROOT / "site.toml"), tmp_path / "public", strict=True)
    assert report.warnings == ()


def test_extract_links_and_ids() -> None:
    document = (
        b'<html><head><link rel="stylesheet" href="/css/a.css"></head><body>'
        b'<h2 id="plans">Plans</h2><a class="x" href="/p/?a=1&amp;b=2#plans">The <em>plans</em></a>'
        b'<img alt="A chart" src="chart.svg"><form action="/buy"></form></body></html>'
    )
    links, ids = extract_links(document)
    assert set(links) == {
        ("/p/?a=1&b=2#plans", "The plans"),
        ("/css/a.css", ""),
        ("chart.svg", "A chart"),
    }
    assert ids == {"plans"}


def test_rebuilds_keep_warnings_and_notice_fixed_targets(tmp_path: Path) -> None:
    root = write_site(tmp_path, {"content/links.md": LINKS_PAGE})
    first = shown(root, build(root))
    again = build(root)
    assert again.rendered == 0  # the links page was not rendered: its warnings were kept
    assert shown(root, again) == first
    # The missing targets appear; the links page itself is not rendered again.
    write_site(root, {"content/gone.md": "---\ntitle: Gone\n---\nBack.\n"})
    fixed = build(root)
    assert "content/links.md:8: warning: broken link /gone/: no /gone/ in the built site" in first
    assert shown(root, fixed) == [line for line in first if "/gone/" not in line]


def test_text_that_moves_a_broken_link_moves_its_warning(tmp_path: Path) -> None:
    """The page is made again with the same links: it had warnings, so it is judged again."""
    root = write_site(tmp_path, {"content/links.md": LINKS_PAGE})
    first = shown(root, build(root))
    moved = LINKS_PAGE.replace("Broken:", "A paragraph without links.\n\nBroken:")
    write_site(root, {"content/links.md": moved})
    again = build(root)
    assert again.rendered >= 1
    assert shown(root, again) == [
        warning.replace(f":{line}:", f":{line + 2}:") if line > 5 else warning
        for warning in first
        for line in [int(warning.split(":")[1])]
    ]
    assert shown(root, again) == shown(root, build(root, clean=True))


def test_a_template_edit_that_adds_a_broken_link_warns_on_every_post(tmp_path: Path) -> None:
    """Posts without warnings whose links changed are judged again; the others need not be."""
    root = write_site(tmp_path)
    assert build(root).warnings == ()
    post = (root / "templates/post.html").read_text(encoding="utf-8")
    edited = post.replace("{% block content %}", '{% block content %}<a href="/gone/">Gone</a>')
    write_site(root, {"templates/post.html": edited})
    again = build(root)
    assert {warning.message for warning in again.warnings} == {
        "broken link /gone/: no /gone/ in the built site"
    }
    assert len(again.warnings) == 1  # one line of one template, for every post
    assert shown(root, again) == shown(root, build(root, clean=True))
    write_site(
        root,
        {"templates/post.html": post.replace("{% block content %}", "{% block content %}<!-- -->")},
    )
    assert build(root).warnings == ()


def test_the_links_of_many_pages_are_all_judged(tmp_path: Path) -> None:
    """The checker reads the documents' links from the cache file in batches (of 250): a
    broken link on the first page, one on each side of a batch's end, one on the last."""
    pages = {
        f"content/notes/note-{number:03}.md": f"---\ntitle: Note {number}\n---\nText {number}.\n"
        for number in range(260)
    }
    for number in (0, 249, 250, 259):
        pages[f"content/notes/note-{number:03}.md"] += f"\n[gone](/gone-{number}/)\n"
    root = write_site(tmp_path, pages)
    report = build(root, workers=1)
    assert shown(root, report) == [
        f"content/notes/note-{number:03}.md:6: warning: broken link /gone-{number}/: "
        f"no /gone-{number}/ in the built site"
        for number in (0, 249, 250, 259)
    ]
