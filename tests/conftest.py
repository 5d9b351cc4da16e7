"""Fixtures shared by every test module: where the project and its example site are."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository root, which is also the bundled example site."""
    return ROOT
