"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from build_support import write_site

from launchkit.preview import Preview, start_preview


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A small complete site (tests/build_support.py) in a temporary folder."""
    return write_site(tmp_path)


@pytest.fixture
def preview(site: Path) -> Iterator[Preview]:
    """``build.py --serve`` of that site on a free port, without a Stripe key (dry run)."""
    running = start_preview(site / "site.toml", port=0, environ={})
    yield running
    running.stop()
