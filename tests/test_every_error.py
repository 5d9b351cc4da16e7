"""Every error at once: a build lists all it finds, in `path:line` order, and publishes nothing.

Many warnings are summarised, all of them with --verbose.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
from build_support import run_build, snapshot, write_site

from launchkit.config import load_config
from launchkit.errors import SiteError, SiteErrors
from launchkit.site.builder import build_site

# Six kinds of broken page, as imported content breaks: each with the first line of its error.
BROKEN = [
    ("---\ntitle: Ok\ndrafts: true\n---\n", ":3: `drafts`: did you mean `draft`?"),
    ("---\ntitle: '\n---\n", ":3: front matter is not valid YAML"),
    ('---\ntitle: ""\n---\n', ":2: missing 'title' in front matter"),
    ("---\ntitle: Ok\ndate: 10/12/2019\n---\n", ":3: 'date' must be a date like 2026-11-02"),
    ("no front matter\n", ":1: no front matter"),
    ("---\ntitle: Ok\nmenu_order: high\n---\n", ":3: 'menu_order' must be a whole number"),
]


def sixty_broken_pages() -> dict[str, str]:
    return {
        f"content/imported/post-{number:02}.md": BROKEN[number % len(BROKEN)][0]
        for number in range(1, 61)
    }


def test_sixty_broken_pages_are_sixty_errors_in_order(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    assert run_build(root).returncode == 0
    before = snapshot(root / "public")

    result = run_build(write_site(root, sixty_broken_pages()))

    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == "60 errors: nothing published"
    errors = [line for line in lines[:-1] if not line.startswith("  hint: ")]
    hints = [line for line in lines[:-1] if line.startswith("  hint: ")]
    assert len(errors) == len(hints) == 60
    for number, line in enumerate(errors, start=1):
        expected = f"content/imported/post-{number:02}.md{BROKEN[number % len(BROKEN)][1]}"
        assert line.startswith(expected), (number, line)
    assert snapshot(root / "public") == before


def test_errors_found_in_worker_processes_keep_their_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over 100 pages are read by worker processes; their errors come back whole."""
    pages = {
        f"content/many/page-{number:03}.md": f"---\ntitle: Page {number}\n---\nText.\n"
        for number in range(150)
    }
    pages["content/many/page-017.md"] = "---\ntitle: Bad\ntemplte: page\n---\n"
    pages["content/many/page-121.md"] = "---\ntitle: Bad\ndate: soon\nslug: a/b\n---\n"
    root = write_site(tmp_path, pages)
    monkeypatch.chdir(root)
    with pytest.raises(SiteErrors) as caught:
        build_site(load_config(root / "site.toml"), root / "public", workers=2)
    assert [error.location for error in caught.value.errors] == [
        "content/many/page-017.md:3",
        "content/many/page-121.md:3",
        "content/many/page-121.md:4",
    ]


def test_errors_survive_pickling() -> None:
    errors = SiteErrors([SiteError("b", "x.md", 2, "fix b"), SiteError("a", "x.md", 1)])
    copy = pickle.loads(pickle.dumps(errors))  # noqa: S301 - our own bytes
    assert copy.location == "x.md:1"
    assert (
        str(copy)
        == str(errors)
        == "x.md:1: a\nx.md:2: b\n  hint: fix b\n2 errors: nothing published"
    )


def test_read_errors_and_duplicate_urls_together(tmp_path: Path) -> None:
    changes = {
        "content/plans.md": "---\ntitle: Plans\nslug: pricing\n---\n",
        "content/zebra.md": "---\ntitle: Zebra\ndescripton: stripes\n---\n",
    }
    result = run_build(write_site(tmp_path, changes))
    assert result.returncode == 1
    assert re.findall(r"^\S+: .*$", result.stderr, re.MULTILINE) == [
        "content/pricing.md: two pages have the URL /pricing/: content/plans.md and "
        "content/pricing.md",
        "content/zebra.md:3: `descripton`: did you mean `description`?",
    ]
    assert result.stderr.splitlines()[-1] == "2 errors: nothing published"


def test_shortcode_errors_of_every_page(tmp_path: Path) -> None:
    body = "---\ntitle: Sale\n---\nBuy now.\n\n{{< buy gold >}}\n"
    changes = {f"content/sale-{n}.md": body for n in range(3)}
    result = run_build(write_site(tmp_path, changes))
    assert result.returncode == 1
    located = re.findall(r"^(content/\S+): unknown product 'gold'$", result.stderr, re.MULTILINE)
    assert located == ["content/sale-0.md:6", "content/sale-1.md:6", "content/sale-2.md:6"]
    assert result.stderr.rstrip().endswith("3 errors: nothing published")


def test_a_template_error_met_by_every_page_is_listed_once(tmp_path: Path) -> None:
    template = '{% extends "base.html" %}\n{% block content %}\n{{ page.titel }}\n{% endblock %}\n'
    result = run_build(write_site(tmp_path, {"templates/page.html": template}))
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert re.fullmatch(
        r"templates/page.html:3: '\S*Page object' has no attribute 'titel' \(and \d+ more times\)",
        first,
    ), first
    assert result.stderr.count("'titel'") == 1


BROKEN_LINKS = "".join(f"[link {n}](/nowhere-{n:02}/)\n\n" for n in range(15))


def test_many_warnings_are_summarised(tmp_path: Path) -> None:
    root = write_site(tmp_path, {"content/links.md": f"---\ntitle: Links\n---\n{BROKEN_LINKS}"})
    result = run_build(root)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[:5] == [
        f"content/links.md:{4 + 2 * n}: warning: broken link /nowhere-{n:02}/: no "
        f"/nowhere-{n:02}/ in the built site"
        for n in range(5)
    ]
    assert lines[5:] == ["… and 10 more warnings (15 in all; --verbose lists them all)"]
    verbose = run_build(root, "--verbose").stderr.splitlines()
    assert len(verbose) == 15
    assert verbose[-1].startswith("content/links.md:32: warning: broken link /nowhere-14/")


def test_unused_keys_are_noted_after_the_build(tmp_path: Path) -> None:
    posts = {
        f"content/blog/imported-{n}.md": f"---\ntitle: Post {n}\ndate: 2026-01-0{n}\n"
        "author_staff_member: jane\n---\nText.\n"
        for n in range(1, 5)
    }
    result = run_build(write_site(tmp_path, posts))
    assert result.returncode == 0, result.stderr
    assert result.stderr == "note: `author_staff_member` in 4 files is used by no template\n"


def test_front_matter_and_shortcode_errors_in_one_build(tmp_path: Path) -> None:
    """The pages that could be read are checked too: one failed build lists every problem."""
    changes = {
        "content/a-typo.md": "---\ntitle: A\ntemplte: page\n---\n",
        "content/b-shortcode.md": "---\ntitle: B\n---\nText.\n\n{{< buy gold >}}\n",
        "content/c-dup.md": "---\ntitle: C\nslug: b-shortcode\n---\n",
    }
    result = run_build(write_site(tmp_path, changes))
    assert result.returncode == 1
    assert re.findall(r"^(content/\S+?):? ", result.stderr, re.MULTILINE) == [
        "content/a-typo.md:3",
        "content/b-shortcode.md:6",
        "content/c-dup.md",
    ]
    assert result.stderr.splitlines()[-1] == "3 errors: nothing published"


def test_unknown_shortcodes_inside_an_unknown_paired_one_in_the_first_build(
    tmp_path: Path,
) -> None:
    """Flux's docs nest Hugo's `tab` shortcodes in `tabs`: none is known here; the first
    build names each, the nested ones too, with the closest known name."""
    page = (
        "---\ntitle: Install\n---\nPick your platform.\n\n"
        '{{< tabs name="install" >}}\n'
        '{{% tab "Linux" %}}\n'
        "Run `curl -s https://fluxcd.io/install.sh | sudo bash`.\n"
        "{{< yotube abc >}}\n"
        "{{% /tab %}}\n"
        '{{% tab "macOS" %}}\n'
        "{{< notte >}}Use brew.{{< /notte >}}\n"
        "{{% /tab %}}\n"
        "{{< /tabs >}}\n"
    )
    result = run_build(write_site(tmp_path, {"content/install.md": page}))

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert [line for line in lines if not line.startswith("  hint: ")] == [
        "content/install.md:6: unknown shortcode 'tabs'",
        "content/install.md:7: unknown shortcode 'tab'",
        "content/install.md:9: unknown shortcode 'yotube'",
        "content/install.md:11: unknown shortcode 'tab'",
        "content/install.md:12: unknown shortcode 'notte'",
        "5 errors: nothing published",
    ]
    hints = [line for line in lines if line.startswith("  hint: ")]
    assert "did you mean 'youtube'?" in hints[2]
    assert "did you mean 'note'?" in hints[4]


def test_every_failing_shortcode_of_a_page_in_the_first_build(tmp_path: Path) -> None:
    """Flux's migration guide links two pages a partial import lacks: both are listed (and a
    bad product on the same page), not one per build."""
    page = (
        '---\ntitle: Migrate\n---\nSet up [alerts]({{< relref "../monitoring/alerts.md" >}})\n'
        'and [webhook receivers]({{< relref "../guides/webhook-receivers.md" >}}).\n\n'
        "{{< buy gold >}}\n"
    )
    result = run_build(write_site(tmp_path, {"content/migration/flux-v1.md": page}))

    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if not line.startswith("  hint: ")]
    assert lines == [
        "content/migration/flux-v1.md:4: relref target '../monitoring/alerts.md' is no page",
        "content/migration/flux-v1.md:5: relref target '../guides/webhook-receivers.md' is no page",
        "content/migration/flux-v1.md:7: unknown product 'gold'",
        "3 errors: nothing published",
    ]
