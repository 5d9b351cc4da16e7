"""Random edits under the running preview: after every step, its folder is a clean build.

The preview rebuilds from the paths watchdog reports (``build_site(changed=...)``), and a
body edit reuses the last build's site plan (:mod:`launchkit.site.siteplan`). Editors do
not write files one way: some write in place, some write a temporary file and rename it
over the page, some rename the page to a backup first; authors delete a page and write it
again, and move whole folders. From a seeded generator, this test makes such edits of a
small site while the real preview (real watchdog, real files) runs, and waits until its
folder is a clean build of the same tree made in a separate process with the preview's
settings: the same files, byte for byte (a wrong page that stays fails the test). The seed is
printed on failure; ``PREVIEW_EDITS_SEED=N`` replays one.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

from build_support import snapshot
from test_random_edits import Builder, Site, Zygote, small_site

from launchkit.preview import start_preview

STEPS = int(os.environ.get("PREVIEW_EDITS_STEPS", "40"))
SEED = int(os.environ.get("PREVIEW_EDITS_SEED", "20261202"))
# How long the preview may take to show a step (it shows most within a second).
SETTLE_SECONDS = 30


class Editor(Site):
    """The site's edits as editors and authors make them (besides :class:`Site`'s)."""

    def body_edit(self) -> tuple[str, set[Path]]:
        """A new sentence at the end of a page, front matter untouched (the plan's case)."""
        page = self.rng.choice(self.pages())
        text = page.read_text(encoding="utf-8") + f"\nA sentence {self.word()}.\n"
        return f"body {page.name}", self.write(page, text)

    def save_by_rename(self) -> tuple[str, set[Path]]:
        """Write a temporary file beside the page and rename it over the page (IDEs)."""
        page = self.rng.choice(self.pages())
        temporary = page.with_name(f".{page.name}.{self.word()}.tmp")
        temporary.write_text(page.read_text(encoding="utf-8") + "\nSaved by rename.\n", "utf-8")
        os.replace(temporary, page)
        return f"save by rename {page.name}", {page, temporary}

    def save_with_backup(self) -> tuple[str, set[Path]]:
        """Rename the page to a backup, write it anew, delete the backup (vim's default)."""
        page = self.rng.choice(self.pages())
        backup = page.with_name(page.name + "~")
        text = page.read_text(encoding="utf-8")
        page.rename(backup)
        page.write_text(text + f"\nSaved with a backup {self.word()}.\n", "utf-8")
        backup.unlink()
        return f"save with backup {page.name}", {page, backup}

    def delete_and_write_again(self) -> tuple[str, set[Path]]:
        page = self.rng.choice(self.pages())
        text = page.read_text(encoding="utf-8")
        page.unlink()
        page.write_text(text + f"\nWritten again {self.word()}.\n", "utf-8")
        return f"delete and write {page.name}", {page}

    def move_folder(self) -> tuple[str, set[Path]]:
        """Move a folder of pages to a new name (back and forth: the site keeps its shape)."""
        docs = self.root / "content" / "docs"
        folders = [path for path in docs.iterdir() if path.is_dir()]
        if not folders:
            return self.body_edit()
        folder = self.rng.choice(folders)
        target = docs / f"{folder.name.split('--')[0]}--{self.word()}"
        shutil.move(folder, target)
        return f"move {folder.name} -> {target.name}", {folder, target}


EDITS = [
    (Editor.body_edit, 10),
    (Editor.save_by_rename, 4),
    (Editor.save_with_backup, 4),
    (Editor.delete_and_write_again, 3),
    (Editor.move_folder, 2),
    (Editor.page_edit, 4),
    (Editor.front_matter, 3),
    (Editor.add_page, 2),
    (Editor.delete_page, 1),
    (Editor.rename_page, 1),
    (Editor.template_edit, 1),
    (Editor.static_edit, 1),
]


def settled_as(folder: Path, expected: dict[str, bytes], where: str) -> None:
    """Wait until ``folder`` holds exactly ``expected`` (the preview notices a step, waits
    for quiet, rebuilds, maybe twice); fail naming what differs if it never does."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while (built := _snapshot_between_builds(folder)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert built is not None, f"{where}: the preview was still building at the deadline"
    assert sorted(built) == sorted(expected), where
    different = [name for name in built if built[name] != expected[name]]
    assert different == [], where


def _snapshot_between_builds(folder: Path) -> dict[str, bytes] | None:
    """:func:`snapshot` of the preview's output, or None when a build of the preview moved
    it under the walk (its staging folder or a staged file gone between listing and
    reading): that is a site not settled yet, to look at again."""
    try:
        return snapshot(folder)
    except FileNotFoundError:
        return None


def test_the_preview_after_random_edits_is_a_clean_build(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    corpus = small_site(tmp_path / "site")
    site = Editor(corpus.root, tmp_path / "unused", rng)
    zygote = Zygote()
    clean = Builder(corpus.root, Path(__file__).resolve().parent.parent, zygote)
    clean.start()
    preview = start_preview(corpus.root / "site.toml", port=0, environ={})
    history: list[str] = []
    kinds = [edit for edit, weight in EDITS for _ in range(weight)]
    try:
        for step in range(1, STEPS + 1):
            what, _ = rng.choice(kinds)(site)
            history.append(what)
            clean.send(out=str(tmp_path / "clean"), clean=True, preview=True)
            where = f"seed {SEED}, step {step}: {history[-3:]}"
            if clean.answer(where)["ok"]:  # else the preview shows the error over the last site
                settled_as(preview.site_dir, snapshot(tmp_path / "clean"), where)
    finally:
        preview.stop()
        clean.stop()
        zygote.stop()
