"""Publishing where an open file cannot be replaced (Windows): a short hold is waited out.

Linux replaces a file whatever holds it open, so the refusal Windows gives (a
``PermissionError`` from ``os.replace``) is produced here by wrapping ``os.replace``; what is
tested is the publisher's answer to it, with the real build around it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from build_support import FILES, snapshot, write_site

from launchkit.config import load_config
from launchkit.errors import SiteError
from launchkit.site import publish
from launchkit.site.builder import build_site

HELD = "index.html"


def _hold(monkeypatch: pytest.MonkeyPatch, refusals: int) -> list[str]:
    """Make renames onto ``HELD`` fail ``refusals`` times, as Windows does for an open file."""
    real_replace = os.replace
    refused: list[str] = []

    def replace(source: str | Path, target: str | Path) -> None:
        if Path(target).name == HELD and len(refused) < refusals:
            refused.append(str(target))
            raise PermissionError(13, "The process cannot access the file", str(target))
        real_replace(source, target)

    monkeypatch.setattr(publish.os, "replace", replace)
    monkeypatch.setattr(publish, "_REPLACE_PAUSE", 0.001)
    return refused


def _edit_and_build(root: Path) -> None:
    (root / "content/index.md").write_text(FILES["content/index.md"] + "\nEdited.\n")
    build_site(load_config(root / "site.toml"), root / "public", workers=1)


def test_a_briefly_held_file_is_replaced_once_it_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_site(tmp_path)
    build_site(load_config(root / "site.toml"), root / "public", workers=1)
    refused = _hold(monkeypatch, refusals=3)
    _edit_and_build(root)
    assert len(refused) == 3
    assert "Edited." in (root / "public" / HELD).read_text()


def test_a_file_held_for_good_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_site(tmp_path)
    build_site(load_config(root / "site.toml"), root / "public", workers=1)
    before = snapshot(root / "public")
    _hold(monkeypatch, refusals=publish._REPLACE_TRIES)
    with pytest.raises(SiteError) as caught:
        _edit_and_build(root)
    assert str(caught.value).startswith(
        f"cannot replace {root / 'public' / HELD}: The process cannot access the file\n"
        "  hint: close the program that has it open"
    )
    assert snapshot(root / "public")[HELD] == before[HELD]  # the old page is still served
    assert not (root / "public" / publish.STAGING).exists()  # nothing left staged
