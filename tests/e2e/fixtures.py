"""Fixtures of the end-to-end browser tests, loaded as a plugin (``pytest_plugins``).

Test modules declare ``pytest_plugins = ["e2e.fixtures"]`` so that the session fixtures are
built once for all of them (one site build, one checkout server, one Chromium):

- ``e2e_site``: the example site built with the test config and served on 127.0.0.1;
- ``stripe_stub``: the local server that speaks Stripe's API and records each session;
- ``checkout_service``: the project's own ``checkout_server.py``, started as the README says;
- ``chromium``: one headless Chromium; skipped without one, except in CI (``CI=true``).

Per test: ``gate`` (the network rules), ``open_visitor`` (a page in a new, gated browser
context) and ``visitor`` (one such page). A failing test leaves a screenshot and the HTML of
each of its pages in ``test-artifacts/``. The helpers they use live in ``tests/e2e_support.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from e2e_support import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    E2ESite,
    NetworkGate,
    checkout_server,
    find_chromium,
    served_example,
    standin_script,
)
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from stripe_stub import StripeStub, catalogue_prices

# --- failure artifacts ---------------------------------------------------------------------

_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Keep the test's own outcome on the item, so fixtures can tell a failure at teardown."""
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


def save_artifacts(node: pytest.Item, contexts: list[BrowserContext]) -> None:
    """A screenshot and the HTML of every page a failed test had open, for the CI log."""
    ARTIFACTS.mkdir(exist_ok=True)
    stem = node.nodeid.replace("/", "_").replace("::", "-").replace("[", "-").rstrip("]")
    for c, context in enumerate(contexts):
        for p, page in enumerate(context.pages):
            name = f"{stem}-{c}-{p}"
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            (ARTIFACTS / f"{name}.html").write_text(
                f"<!-- {page.url} -->\n{page.content()}", encoding="utf-8"
            )


def failed(node: pytest.Item) -> bool:
    report = node.stash.get(_CALL_REPORT, None)
    return report is not None and report.failed


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def e2e_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ESite]:
    """The example site, built with the test config and served on 127.0.0.1."""
    with served_example(tmp_path_factory.mktemp("e2e-site")) as site:
        yield site


@pytest.fixture(scope="session")
def stripe_stub(e2e_site: E2ESite) -> Iterator[StripeStub]:
    """The local server that speaks Stripe's API, holds the catalogue's prices (the checkout
    server checks them at start) and records what it receives."""
    with StripeStub(prices=catalogue_prices(e2e_site.config.products)) as stub:
        yield stub


@pytest.fixture(scope="session")
def checkout_service(
    e2e_site: E2ESite, stripe_stub: StripeStub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The project's checkout server, on the port the built site's forms post to."""
    port = urlsplit(e2e_site.config.checkout.endpoint).port
    assert port is not None
    log = tmp_path_factory.mktemp("checkout") / "checkout_server.log"
    with checkout_server(e2e_site.config, port, stripe_stub.url, log) as origin:
        yield origin


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the session; skipped without one, except in CI."""
    executable = find_chromium()
    if executable is None:
        message = "no Chromium found (looked for /usr/bin/chromium and chromium on PATH)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: CI must install Debian's chromium package")
        pytest.skip(f"{message}: install Debian's chromium package to run the browser tests")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def gate() -> NetworkGate:
    """This test's network rules; a test may change ``rewardful_script`` before it browses."""
    return NetworkGate(standin=standin_script())


@pytest.fixture
def open_visitor(
    chromium: Browser, gate: NetworkGate, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Page]]:
    """Open a page in a new, gated browser context (options as ``Browser.new_context``)."""
    contexts: list[BrowserContext] = []

    def open_(**options: Any) -> Page:
        context = chromium.new_context(**options)
        context.set_default_timeout(10_000)
        context.route("**/*", gate.handle)
        contexts.append(context)
        return context.new_page()

    yield open_
    if failed(request.node):
        save_artifacts(request.node, contexts)
    for context in contexts:
        context.close()


@pytest.fixture
def visitor(open_visitor: Callable[..., Page]) -> Page:
    """A visitor's page in a fresh browser context with JavaScript on."""
    return open_visitor()
