"""Bad input through the CLI: non-zero exit, ``path:line``, no traceback, last site intact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from build_support import run_build, snapshot, write_site

from launchkit.config import load_config
from launchkit.errors import SiteError
from launchkit.site.builder import build_site

PAGE_WITH = "---\ntitle: Broken\n---\nIntro.\n\n{}\n"  # the body's line 6 holds the shortcode

# Each case: the files that break the build, and the location the message must start with.
ERROR_CASES = {
    "bad yaml": (
        {"content/bad.md": "---\ndescription: fine\ntitle: Pricing: plans\n---\n"},
        "content/bad.md:3:",
    ),
    "missing title": (
        {"content/untitled.md": "---\ndescription: no title\n---\nBody.\n"},
        "content/untitled.md:1:",
    ),
    "unknown template": (
        {"content/odd.md": "---\ntitle: Odd\ntemplate: nope\n---\n"},
        "content/odd.md:3:",
    ),
    "unknown shortcode": (
        {"content/sc.md": PAGE_WITH.format("{{< bogus pro >}}")},
        "content/sc.md:6:",
    ),
    "unknown product": (
        {"content/sc.md": PAGE_WITH.format("{{< buy enterprise >}}")},
        "content/sc.md:6:",
    ),
    "bad shortcode arguments": (
        {"content/sc.md": PAGE_WITH.format('{{< buy pro "Label" extra >}}')},
        "content/sc.md:6:",
    ),
    "template syntax error": (
        {"templates/page.html": '{% extends "base.html" %}\n{% block content %}{% if %}\n'},
        "templates/page.html:2:",
    ),
    "template undefined variable": (
        {
            "templates/page.html": (
                '{% extends "base.html" %}\n{% block content %}\n{{ page.titel }}\n{% endblock %}\n'
            )
        },
        "templates/page.html:3:",
    ),
    "unknown product in template": (
        {
            "templates/pricing.html": (
                '{% extends "base.html" %}\n{% block content %}\n{{ buy_form("gold") }}\n'
                "{% endblock %}\n"
            )
        },
        "templates/pricing.html:3:",
    ),
    "template without the snippet": (
        {
            "templates/bare.html": "<html><head><title>{{ page.title }}</title></head></html>\n",
            "content/landing.md": "---\ntitle: Landing\ntemplate: bare\n---\n",
        },
        "templates/bare.html:",
    ),
}


@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_names_path_line_and_keeps_last_site(tmp_path: Path, case: str) -> None:
    changes, location = ERROR_CASES[case]
    root = write_site(tmp_path)
    assert run_build(root).returncode == 0
    before = snapshot(root / "public")

    write_site(root, changes)
    result = run_build(root)

    assert result.returncode == 1
    assert result.stderr.startswith(location), result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert snapshot(root / "public") == before
    assert sorted(path.name for path in root.iterdir() if path.name.startswith(".public")) == []


def test_errors_name_the_page_being_rendered(tmp_path: Path) -> None:
    changes, _ = ERROR_CASES["template undefined variable"]
    result = run_build(write_site(tmp_path, changes))
    assert "'titel'" in result.stderr
    assert "while rendering content/" in result.stderr


def test_missing_snippet_names_template_and_page(tmp_path: Path) -> None:
    changes, _ = ERROR_CASES["template without the snippet"]
    result = run_build(write_site(tmp_path, changes))
    assert "content/landing.md" in result.stderr
    assert "partials/rewardful.html" in result.stderr


def test_verbose_shows_the_traceback(tmp_path: Path) -> None:
    changes, _ = ERROR_CASES["unknown product"]
    result = run_build(write_site(tmp_path, changes), "--verbose")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "content/sc.md:6:" in result.stderr


@pytest.mark.usefixtures("own_image_cache")  # it counts the images encoded
def test_summary_line_and_default_output(tmp_path: Path) -> None:
    env = {**os.environ, "STRIPE_SECRET_KEY": "sk_test_51NeverInOutput"}
    result = run_build(write_site(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    # The site's 5 files, and a social card per page (each one encoded).
    assert result.stdout.startswith(
        "Built 8 pages (8 rendered, 0 from cache), 13 files (8 images encoded) in "
    )
    assert result.stdout.rstrip().endswith("s -> public/")
    assert (tmp_path / "public" / "index.html").is_file()
    for name, data in snapshot(tmp_path / "public").items():
        assert b"sk_test_51NeverInOutput" not in data, name
    again = run_build(tmp_path, env=env)
    assert again.stdout.startswith(
        "Built 8 pages (0 rendered, 8 from cache), 13 files (0 images encoded) in "
    )


def test_help(tmp_path: Path) -> None:
    result = run_build(tmp_path, "--help")
    assert result.returncode == 0
    for option in ("--out", "--config", "--drafts", "--clean", "--strict", "--verbose"):
        assert option in result.stdout


def test_drafts_option_through_the_cli(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    assert run_build(root).returncode == 0
    assert not (root / "public/blog/unfinished/index.html").exists()
    assert run_build(root, "--drafts", "--out", "preview").returncode == 0
    assert (root / "preview/blog/unfinished/index.html").is_file()


@pytest.mark.parametrize(
    "out",
    [".", "content", "templates", "static", "content/blog", "static/out", ".."],
)
def test_output_that_would_destroy_sources_is_refused(tmp_path: Path, out: str) -> None:
    root = write_site(tmp_path / "site")
    before = snapshot(root)
    result = run_build(root, "--out", out)
    assert result.returncode == 1
    assert "refusing to publish" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(root) == before


@pytest.mark.parametrize("out", [Path("/"), Path.home()])
def test_root_and_home_are_refused(tmp_path: Path, out: Path) -> None:
    config = load_config(write_site(tmp_path) / "site.toml")
    with pytest.raises(SiteError, match="refusing to publish"):
        build_site(config, out)


def test_duplicate_urls_name_both_files(tmp_path: Path) -> None:
    changes = {"content/plans.md": "---\ntitle: Plans\nslug: pricing\n---\n"}
    result = run_build(write_site(tmp_path, changes))
    assert result.returncode == 1
    assert "content/plans.md" in result.stderr and "content/pricing.md" in result.stderr
