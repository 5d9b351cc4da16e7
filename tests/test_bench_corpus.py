"""The benchmark corpus is deterministic and is a site that build.py builds, links intact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from bench.corpus import generate_corpus, split_front_matter

ROOT = Path(__file__).resolve().parent.parent
PAGES = 20


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    first = generate_corpus(tmp_path / "first", PAGES)
    second = generate_corpus(tmp_path / "second", PAGES)

    assert len(first.pages) == PAGES
    assert _tree_bytes(first.root) == _tree_bytes(second.root)
    assert _tree_bytes(first.root) != _tree_bytes(
        generate_corpus(tmp_path / "other", PAGES, seed=1).root
    )


def test_pages_have_front_matter_and_a_realistic_body(tmp_path: Path) -> None:
    corpus = generate_corpus(tmp_path / "site", PAGES)

    for page in corpus.pages:
        meta, body = split_front_matter(page.read_text(encoding="utf-8"))
        assert meta["title"] and meta["description"], page
        assert 300 <= len(body.split()) <= 900, page
        for marker in ("\n## ", "\n| --- ", "\n```", "\n- ", "\n1. ", "\n> ", "![", "](/"):
            assert marker in body, (page, marker)
    posts = [p for p in corpus.pages if p.parent.name == "blog" and p.name != "index.md"]
    assert posts and all("date" in split_front_matter(p.read_text())[0] for p in posts)


@pytest.mark.skipif(not (ROOT / "build.py").exists(), reason="build.py is not written yet")
def test_build_py_builds_the_corpus(tmp_path: Path) -> None:
    corpus = generate_corpus(tmp_path / "site", PAGES)
    out = tmp_path / "public"

    # --strict: every internal link and #fragment of the corpus must resolve.
    command = [sys.executable, str(ROOT / "build.py"), "--config", str(corpus.config)]
    result = subprocess.run(
        [*command, "--out", str(out), "--strict"],
        cwd=corpus.root,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    for page in corpus.pages:
        meta, _ = split_front_matter(page.read_text(encoding="utf-8"))
        relative = page.relative_to(corpus.content_dir).with_suffix("")
        folder = relative.parent if relative.name == "index" else relative
        html = BeautifulSoup((out / folder / "index.html").read_text(), "html.parser")
        assert meta["title"] in html.title.get_text(), page
        if "template" not in meta:  # page.html and post.html show the body; others may not
            assert html.find("h2") is not None, page


def test_build_stages_prints_each_step_for_both_checkouts() -> None:
    """bench/build_stages.py as bench/README.md runs it, this checkout as its own baseline."""
    command = [sys.executable, str(ROOT / "bench" / "build_stages.py"), "--pages", str(PAGES)]
    result = subprocess.run(
        [*command, "--repeat", "1", "--baseline", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    tables = result.stdout.split("medians of 1 cold builds")[1:]
    assert len(tables) == 2
    for table in tables:
        for step in ("_Build.read_pages", "_Build.write_documents", "_Build.stage_files"):
            assert step in table
        total = next(line for line in table.splitlines() if line.startswith("whole build"))
        wall, parent_cpu, workers_cpu = (float(word) for word in total.split()[-3:])
        assert wall > 0 and parent_cpu > 0 and workers_cpu >= 0
        alone = next(line for line in table.splitlines() if line.startswith("parent alone: "))
        assert 0 < float(alone.split()[2]) < parent_cpu
    # Where the CPU goes against issue 9's cold target: Markdown, then each checkout's rest.
    assert "Markdown in one process: the floor (extra+toc)" in result.stdout
    assert result.stdout.count("x floor (target <= 0.5 x)") == 2
