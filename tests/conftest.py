"""Fixtures shared by several test modules."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from build_support import write_site
from stripe_stub import StripeStub, catalogue_prices
from test_checkout_params import write_site as write_shop

from launchkit.config import load_config
from launchkit.preview import Preview, start_preview
from launchkit.site.media import IMAGE_CACHE_ENV


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the tests marked ``runs_last`` last, the others keeping their order.

    pytest-xdist hands tests to its workers in this order. The 300-step random-edit sequence
    is the suite's longest test (issue 9 wants it within a minute in CI) and uses both cores
    itself (each step's incremental and clean builds are separate processes): in its
    alphabetical place it shared them with the other worker's tests for all its length.
    """
    items.sort(key=lambda item: item.get_closest_marker("runs_last") is not None)


@pytest.fixture(scope="session", autouse=True)
def ctrl_c_reaches_servers() -> None:
    """Let Ctrl-C reach the servers that tests start and then stop with SIGINT.

    A shell runs a background job (``cmd &`` without job control, as in a script or under
    ``nohup``) with SIGINT ignored, and an ignored signal stays ignored in every process
    started from it: the preview and the checkout servers then never saw the tests' SIGINT
    and were waited for until the tests failed. A handler (unlike "ignored") is reset to the
    default in a started program, which gives Python its KeyboardInterrupt again.
    """
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if ignored and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def shared_image_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One image cache for every build of the session, as a CI job may keep one: dozens of
    tests build the example site, and each would otherwise encode its images and draw its
    social cards again (about 1.7 CPU seconds a build). Tests that count what a build
    encodes use the site's own cache (:func:`own_image_cache`)."""
    folder = tmp_path_factory.mktemp("image-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(IMAGE_CACHE_ENV, str(folder))
        yield folder


@pytest.fixture
def own_image_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds keep their images in their site's own ``.cache/images/`` (the default)."""
    monkeypatch.delenv(IMAGE_CACHE_ENV)


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


@pytest.fixture(scope="module")
def shop_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout tests' ``site.toml`` (tests/test_checkout_params.py), endpoint ``/buy``."""
    return write_shop(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module")
def shop_stripe(shop_config: Path) -> Iterator[StripeStub]:
    """The Stripe stand-in for ``shop_config``, holding its catalogue's prices."""
    with StripeStub(prices=catalogue_prices(load_config(shop_config).products)) as stub:
        yield stub


@pytest.fixture
def stripe(shop_stripe: StripeStub) -> StripeStub:
    """``shop_stripe`` with nothing recorded or queued yet."""
    shop_stripe.clear()
    return shop_stripe
