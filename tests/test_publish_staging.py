"""The staging folder: files wait in one folder of the output folder until the build worked.

What can go wrong with it: a failed build leaving it (or a new page's folder) in the site,
a killed build's staging read by the next one, a first build killed before it published
anything making its output folder look like someone else's, files staged by worker
processes not found by the parent that publishes them, and the site's new folders (made
aside in the staging folder while workers render, moved in by the commit) showing up in the
site before the commit, staying after a rollback, or replacing a file of the last good site
before the build worked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from build_support import snapshot, write_site

from launchkit.config import load_config
from launchkit.errors import SiteError
from launchkit.site.builder import build_site
from launchkit.site.publish import MARKER, STAGING, SiteWriter
from launchkit.site.workers import PARALLEL_THRESHOLD

BROKEN = "---\ntitle: Broken\n---\n[x](/nowhere/)\n"


def _build(root: Path, out: str = "public", **options) -> None:
    build_site(load_config(root / "site.toml"), root / out, workers=1, **options)


def _folders(folder: Path) -> list[str]:
    return sorted(
        path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_dir()
    )


def test_a_failed_build_leaves_no_staging_and_no_new_folder(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    _build(root)
    files, folders = snapshot(root / "public"), _folders(root / "public")
    # A new page in a folder of its own is staged; the broken link then fails the build.
    write_site(root, {"content/guide/setup.md": "---\ntitle: Setup\n---\nSteps.\n"})
    write_site(root, {"content/zz-broken.md": BROKEN})
    with pytest.raises(SiteError, match="--strict"):
        _build(root, strict=True)
    assert snapshot(root / "public") == files
    assert _folders(root / "public") == folders  # no guide/setup/, no staging folder


def test_what_a_killed_build_staged_is_not_published(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    _build(root)
    stale = root / "public" / STAGING
    stale.mkdir()
    (stale / "leftover").write_bytes(b"from a build killed before it published")
    (root / "content/about-us.md").write_text("---\ntitle: About\n---\nEdited.\n")
    _build(root)
    _build(root, "clean", clean=True)
    assert snapshot(root / "public") == snapshot(root / "clean")
    assert not stale.exists()


def test_a_first_build_killed_before_publishing_does_not_lock_its_folder(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    (root / "public" / STAGING).mkdir(parents=True)  # all that such a build leaves
    _build(root)
    _build(root, "clean", clean=True)
    assert snapshot(root / "public") == snapshot(root / "clean")


def test_documents_staged_by_worker_processes_are_published(tmp_path: Path) -> None:
    posts = {
        f"content/blog/post-{number:03}.md": (
            f"---\ntitle: Post {number}\ndate: 2026-01-02\n---\nText {number}.\n"
        )
        for number in range(PARALLEL_THRESHOLD + 20)
    }
    root = write_site(tmp_path, posts)
    config = load_config(root / "site.toml")
    build_site(config, root / "public", workers=2)
    (root / "templates/post.html").write_text(
        (root / "templates/post.html")
        .read_text()
        .replace("{% block content %}", "{% block content %}<!-- edited -->", 1)
    )
    build_site(config, root / "public", workers=2)  # every post again, in two workers
    build_site(config, root / "clean", workers=1, clean=True)
    assert snapshot(root / "public") == snapshot(root / "clean")
    assert "<!-- edited -->" in (root / "public/blog/post-007/index.html").read_text()
    assert not (root / "public" / STAGING).exists()


def test_a_file_of_the_last_build_becomes_a_folder_of_many_pages(tmp_path: Path) -> None:
    root = write_site(tmp_path, {"content/guide": "a file beside the pages\n"})
    _build(root)
    assert (root / "public/guide").is_file()
    # More new files than are renamed one after the other: the renames run in threads,
    # several of them into the folder that replaces the file.
    (root / "content/guide").unlink()
    write_site(
        root,
        {
            f"content/guide/step-{number}.md": f"---\ntitle: Step {number}\n---\nDo {number}.\n"
            for number in range(12)
        },
    )
    _build(root)
    _build(root, "clean", clean=True)
    assert snapshot(root / "public") == snapshot(root / "clean")
    assert (root / "public/guide/step-11/index.html").is_file()


def _last_good_site(out: Path) -> None:
    """What a last build left: its marker, a page, and a file named as a folder of pages is now."""
    (out / "blog/old").mkdir(parents=True)
    (out / MARKER).write_text("a build output\n")
    (out / "blog/old/index.html").write_text("<p>old</p>")
    (out / "guide").write_text("a file where a folder goes now")


NEW_OUTPUTS = ["blog/new/index.html", "guide/step/index.html", "docs/a/b/index.html"]


def test_new_folders_wait_aside_in_the_staging_folder_until_the_commit(tmp_path: Path) -> None:
    out = tmp_path / "public"
    _last_good_site(out)
    files, folders = snapshot(out), _folders(out)
    writer = SiteWriter(out)
    writer.make_folders(["index.html", "blog/old/index.html", *NEW_OUTPUTS])
    for output in NEW_OUTPUTS:
        writer.stage(output, f"<p>{output}</p>".encode())
        writer.staged(output)
    # While the build goes on, the site is the last good one: nothing new outside the
    # dot-folder (which nginx never serves), the file in the new folder's way still there.
    assert {
        path: data for path, data in snapshot(out).items() if path.split("/")[0] != STAGING
    } == files
    assert [folder for folder in _folders(out) if folder.split("/")[0] != STAGING] == folders
    writer.commit([*NEW_OUTPUTS, "blog/old/index.html"], ["guide", "blog/old/index.html"])
    assert snapshot(out) == {
        MARKER: b"a build output\n",
        "blog/old/index.html": b"<p>old</p>",
        **{output: f"<p>{output}</p>".encode() for output in NEW_OUTPUTS},
    }
    assert _folders(out) == [
        "blog", "blog/new", "blog/old", "docs", "docs/a", "docs/a/b", "guide", "guide/step"
    ]  # fmt: skip


def test_a_rollback_removes_the_new_folders_made_aside(tmp_path: Path) -> None:
    out = tmp_path / "public"
    _last_good_site(out)
    files, folders = snapshot(out), _folders(out)
    writer = SiteWriter(out)
    writer.make_folders(NEW_OUTPUTS)
    writer.stage(NEW_OUTPUTS[0], b"<p>new</p>")
    writer.staged(NEW_OUTPUTS[0])
    writer.rollback()
    assert snapshot(out) == files
    assert _folders(out) == folders


def test_a_folder_made_aside_that_no_published_file_needs_stays_out(tmp_path: Path) -> None:
    out = tmp_path / "public"
    writer = SiteWriter(out)
    writer.make_folders(["docs/a/index.html", "docs/b/index.html", "other/index.html"])
    writer.stage("docs/a/index.html", b"<p>a</p>")  # the others' files found unchanged, say
    writer.staged("docs/a/index.html")
    writer.commit(["docs/a/index.html"])
    assert _folders(out) == ["docs", "docs/a"]


def test_a_killed_builds_folders_aside_are_not_published(tmp_path: Path) -> None:
    out = tmp_path / "public"
    SiteWriter(out).make_folders(["killed/index.html"])  # and no commit: killed
    writer = SiteWriter(out)
    writer.make_folders(["new/index.html"])
    writer.stage("new/index.html", b"<p>new</p>")
    writer.staged("new/index.html")
    writer.commit(["new/index.html"])
    assert _folders(out) == ["new"]
    assert sorted(snapshot(out)) == [MARKER, "new/index.html"]


def test_a_failed_build_over_workers_keeps_the_file_where_its_folder_would_go(
    tmp_path: Path,
) -> None:
    """The new folders are made while worker processes render (the build's spare time)."""
    root = write_site(tmp_path, {"content/guide": "a file beside the pages\n"})
    build_site(load_config(root / "site.toml"), root / "public", workers=2)
    files, folders = snapshot(root / "public"), _folders(root / "public")
    (root / "content/guide").unlink()
    steps = {
        f"content/guide/step-{number:03}.md": f"---\ntitle: Step {number}\n---\nDo {number}.\n"
        for number in range(PARALLEL_THRESHOLD + 20)
    }
    write_site(root, {**steps, "content/zz-broken.md": BROKEN})
    with pytest.raises(SiteError, match="--strict"):
        build_site(load_config(root / "site.toml"), root / "public", workers=2, strict=True)
    assert snapshot(root / "public") == files  # the file guide among them
    assert _folders(root / "public") == folders


def test_a_folder_of_the_last_build_becomes_a_file_beside_new_folders(tmp_path: Path) -> None:
    out = tmp_path / "public"
    _last_good_site(out)
    writer = SiteWriter(out)
    outputs = ["blog/old", "blog/new/index.html", "guide/step/index.html"]
    writer.make_folders(outputs)
    for output in outputs:
        writer.stage(output, f"<p>{output}</p>".encode())
        writer.staged(output)
    writer.commit(outputs, ["guide", "blog/old/index.html"])
    assert snapshot(out) == {
        MARKER: b"a build output\n",
        **{output: f"<p>{output}</p>".encode() for output in outputs},
    }


def test_a_static_folder_of_the_last_build_becomes_a_file(tmp_path: Path) -> None:
    root = write_site(tmp_path, {"static/notes/a.txt": "a\n"})
    _build(root)
    (root / "static/notes/a.txt").unlink()
    (root / "static/notes").rmdir()
    (root / "static/notes").write_text("now a file\n")
    _build(root)  # removing the last build's notes/a.txt found notes a file: not an error
    _build(root, "clean", clean=True)
    assert snapshot(root / "public") == snapshot(root / "clean")
    assert (root / "public/notes").read_text() == "now a file\n"
