"""Pages and site.toml as editors save them: BOM, CRLF, CR, trailing space, tabs, Latin-1.

The same text saved by different editors must build the same site, and a file that cannot be
read as UTF-8 gets one exact message: where the bad byte is, what is wrong, what to do.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from build_support import FILES, run_build, snapshot, write_site

from launchkit.config import load_config
from launchkit.site.builder import build_site

PAGE = "---\ntitle: Café menu\ndescription: Crème brûlée — and more.\n---\nFirst line.\n\nSecond.\n"
SAVED_AS = {
    "BOM": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "CRLF": lambda text: text.replace("\n", "\r\n").encode("utf-8"),
    "CR": lambda text: text.replace("\n", "\r").encode("utf-8"),
    "BOM and CRLF": lambda text: codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode("utf-8"),
    "spaces after the fences": lambda text: text.replace("---\n", "---  \n").encode("utf-8"),
    "a tab after the fences": lambda text: text.replace("---\n", "---\t\n").encode("utf-8"),
}


def _build(root: Path) -> dict[str, bytes]:
    build_site(load_config(root / "site.toml"), root / "public", workers=1)
    return snapshot(root / "public")


@pytest.mark.parametrize("form", SAVED_AS)
def test_a_page_builds_the_same_however_its_editor_saved_it(tmp_path: Path, form: str) -> None:
    reference = write_site(tmp_path / "lf", {"content/menu.md": PAGE})
    saved = write_site(tmp_path / "saved")
    (saved / "content" / "menu.md").write_bytes(SAVED_AS[form](PAGE))
    assert _build(saved) == _build(reference)


@pytest.mark.parametrize("form", ["BOM", "CRLF", "CR", "BOM and CRLF"])
def test_site_toml_reads_the_same_however_its_editor_saved_it(tmp_path: Path, form: str) -> None:
    reference = write_site(tmp_path / "lf")
    saved = write_site(tmp_path / "saved")
    (saved / "site.toml").write_bytes(SAVED_AS[form](FILES["site.toml"]))
    expected = load_config(reference / "site.toml").fingerprint().replace(str(reference), "")
    assert load_config(saved / "site.toml").fingerprint().replace(str(saved), "") == expected


def test_a_latin1_page_names_the_byte_its_offset_and_a_fix(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    assert run_build(root).returncode == 0
    before = snapshot(root / "public")
    (root / "content" / "menu.md").write_bytes(PAGE.replace(" — ", ", ").encode("latin-1"))
    result = run_build(root)
    assert result.returncode == 1
    # "Caf" + é: the é of line 2 is byte 0xe9, 4 + 10 bytes into the file.
    assert result.stderr == (
        "content/menu.md:2: not UTF-8 text: byte 0xe9 at byte offset 14 (invalid continuation "
        "byte)\n  hint: save the file as UTF-8 (most editors: 'Save with Encoding' or 'Reopen "
        "with Encoding'); it looks like Windows-1252 or Latin-1 text\n"
    )
    assert snapshot(root / "public") == before


def test_undecodable_bytes_that_are_not_windows_1252_get_no_guess(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    # 0x81 is undefined in Windows-1252; after a BOM, the offset counts the BOM's 3 bytes.
    (root / "content" / "menu.md").write_bytes(codecs.BOM_UTF8 + b"---\ntitle: \x81\n---\n")
    result = run_build(root)
    assert result.returncode == 1
    assert result.stderr == (
        "content/menu.md:2: not UTF-8 text: byte 0x81 at byte offset 14 (invalid start byte)\n"
        "  hint: save the file as UTF-8 (most editors: 'Save with Encoding' or 'Reopen with "
        "Encoding')\n"
    )


def test_a_latin1_site_toml_names_its_line(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    text = FILES["site.toml"].replace('title = "Shop"', 'title = "Café"')
    (root / "site.toml").write_bytes(text.encode("latin-1"))
    result = run_build(root)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "site.toml:2: not UTF-8 text: byte 0xe9 at byte offset 19 (invalid continuation byte)\n"
        "  hint: save the file as UTF-8"
    )


@pytest.mark.parametrize(
    ("front", "line", "column"),
    [
        ("title: Tabs\ntags:\n\t- one\n", 4, 1),  # a list indented with a tab
        ("title: Tabs\nparams:\n  author: Ann\n\tlevel: 2\n", 5, 1),  # a key indented with one
    ],
)
def test_a_tab_in_front_matter_is_a_clear_error(
    tmp_path: Path, front: str, line: int, column: int
) -> None:
    root = write_site(tmp_path, {"content/tabs.md": f"---\n{front}---\nBody.\n"})
    result = run_build(root)
    assert result.returncode == 1
    assert result.stderr == (
        f"content/tabs.md:{line}: front matter has a tab (column {column}): YAML takes only "
        "spaces to indent and to separate a key's ':' from its value\n"
        "  hint: replace the tab with spaces\n"
    )
