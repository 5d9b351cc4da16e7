"""Harness of the end-to-end browser tests: the example site, its checkout, a gated browser.

The fixtures that use these helpers are in ``tests/e2e/fixtures.py``. What is here:

- ``write_test_config`` / ``build_site``: a copy of the repository's ``site.toml`` whose site,
  checkout endpoint and return URLs point at local ports, next to copies of ``content/``,
  ``templates/``, ``static/``, built with ``python build.py``;
- ``static_server``: serves the output as a static host does (``404.html`` for unknown paths);
- ``checkout_server``: runs ``python checkout_server.py`` as the README says, against the
  local Stripe stand-in, and waits for ``GET /healthz``;
- ``NetworkGate``: the only way a test browser reaches the network. The local servers are
  reachable, Rewardful's ``rw.js`` is answered with a local stand-in
  (``tests/e2e/rewardful_standin.js``, because Rewardful's script cannot be fetched here),
  and every other outside request is aborted and recorded.
"""

from __future__ import annotations

import enum
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Route

from launchkit.config import SiteConfig, load_config

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
STANDIN_SCRIPT = Path(__file__).resolve().parent / "e2e" / "rewardful_standin.js"
REWARDFUL_SCRIPT_URL = "https://r.wdfl.co/rw.js"
SITE_FOLDERS = ("content", "templates", "static")

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # The example's hosts lead to this machine, for the test of deploy/nginx.conf; every
    # other test's gate still aborts any request to them before it is made.
    "--host-resolver-rules=MAP beacon.example 127.0.0.1, MAP pay.beacon.example 127.0.0.1",
]
STRIPE_TEST_KEY = "sk_test_e2e0000000000000000000000"

# The coupon of the double-sided test campaign; the test config lists it, and only it.
LISTED_COUPON = "PARTNER20"
UNLISTED_COUPON = "ROGUE90"

# The affiliates the Rewardful stand-in knows, by link token (`?via=<token>`).
AFFILIATES: dict[str, dict[str, Any]] = {
    "partner": {"id": "aff_partner", "name": "Pat Partner", "coupon": None},
    "friend20": {
        "id": "aff_friend20",
        "name": "Fran Friend",
        "coupon": {"id": LISTED_COUPON, "name": "20% off, from a friend", "percent_off": 20},
    },
    "rogue": {
        "id": "aff_rogue",
        "name": "Rory Rogue",
        "coupon": {"id": UNLISTED_COUPON, "name": "90% off", "percent_off": 90},
    },
}


# --- the site under test -------------------------------------------------------------------


def free_port() -> int:
    """A port that was free a moment ago, for a server that must be told its port up front."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _relocate(url: str, origin: str) -> str:
    """``url`` moved to ``origin``, path and query kept verbatim (``{CHECKOUT_SESSION_ID}``)."""
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{origin}{parts.path or '/'}{query}"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    """Serialise the small subset of TOML that ``site.toml`` uses: tables, scalars, lists."""
    lines = [
        f"{key} = {_toml_value(value)}"
        for key, value in data.items()
        if not isinstance(value, dict)
    ]
    text = "\n".join(lines) + "\n" if lines else ""
    for key, value in data.items():
        if isinstance(value, dict):
            name = f"{prefix}.{key}" if prefix else key
            body = _toml(value, name)
            header = f"\n[{name}]\n" if any(not isinstance(v, dict) for v in value.values()) else ""
            text += header + body
    return text


def write_test_config(folder: Path, site_origin: str, checkout_origin: str) -> SiteConfig:
    """Copy the example site into ``folder`` with its URLs pointing at the local servers.

    Everything else (the catalogue, Rewardful's key, the content) stays as the repository
    ships it, so the tests exercise the example a user would get. The coupons are set to the
    one double-sided campaign the Rewardful stand-in knows, so that "listed" and "not
    listed" are facts of this harness rather than of the example.
    """
    data = tomllib.loads((ROOT / "site.toml").read_text(encoding="utf-8"))
    checkout = data["checkout"]
    data["site"]["base_url"] = site_origin + "/"
    checkout["endpoint"] = _relocate(checkout["endpoint"], checkout_origin)
    checkout["success_url"] = _relocate(checkout["success_url"], site_origin)
    checkout["cancel_url"] = _relocate(checkout["cancel_url"], site_origin)
    data["rewardful"]["coupons"] = [LISTED_COUPON]
    (folder / "site.toml").write_text(_toml(data), encoding="utf-8")
    for name in SITE_FOLDERS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, folder / name)
    return load_config(folder / "site.toml")


def build_site(config: SiteConfig, out: Path) -> None:
    """Build the site with the project's own CLI; a failed build fails the tests loudly."""
    result = subprocess.run(
        [sys.executable, "build.py", "--config", str(config.root / "site.toml"), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"build.py failed:\n{result.stdout}{result.stderr}")


class _StaticHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder the way static hosts do: ``404.html`` for unknown paths."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on responses, not on the access log."""


@contextmanager
def static_server(directory: Path) -> Iterator[http.server.ThreadingHTTPServer]:
    """Serve ``directory`` on an ephemeral port of 127.0.0.1 in a background thread."""
    handler = functools.partial(_StaticHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def origin_of(server: http.server.HTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def wait_for_health(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 20
) -> None:
    """Wait until ``url`` answers 200; fail with the server's log if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"checkout_server.py exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)  # not listening yet
    raise RuntimeError(f"{url} did not answer within {timeout} s:\n{log.read_text()}")


@contextmanager
def checkout_server(config: SiteConfig, port: int, stripe_url: str, log: Path) -> Iterator[str]:
    """Run ``python checkout_server.py`` as the README says, against the Stripe stand-in.

    Yields the server's origin once ``GET /healthz`` answers.
    """
    env = {
        **os.environ,
        "STRIPE_SECRET_KEY": STRIPE_TEST_KEY,
        "STRIPE_API_BASE": stripe_url,
        # These tests buy many times from one address; the limits have tests of their own.
        "CHECKOUT_RATE_LIMIT": "off",
    }
    command = [
        sys.executable,
        "checkout_server.py",
        "--config",
        str(config.root / "site.toml"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    origin = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_for_health(f"{origin}/healthz", process, log)
        yield origin
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 5) -> None:
    """Ask a server we started to stop; kill it if it has not within ``timeout``."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def served_example(workdir: Path, edit: Callable[[Path], None] | None = None) -> Iterator[E2ESite]:
    """The example site with the test config, built into ``workdir/public`` and served.

    ``edit`` may change the copy (its folder is given) before the build.
    """
    out = workdir / "public"
    with static_server(out) as server:
        origin = origin_of(server)
        config = write_test_config(workdir, origin, f"http://127.0.0.1:{free_port()}")
        if edit is not None:
            edit(workdir)
            config = load_config(workdir / "site.toml")
        build_site(config, out)
        production = load_config(ROOT / "site.toml").site.origin
        yield E2ESite(config=config, origin=origin, production_origin=production, out=out)


@dataclass(frozen=True)
class E2ESite:
    """The built example site as the tests reach it."""

    config: SiteConfig
    origin: str  # where the static site is served
    production_origin: str  # the example's real origin, which no test request may reach
    out: Path  # the built site

    def url(self, path: str) -> str:
        return self.origin + path

    def all_pages(self) -> list[str]:
        """The URL of every HTML page built, noindex ones (not in the sitemap) included;
        not an alias's redirect page (front matter `aliases:`), which a visitor never reads."""
        urls = []
        for path in sorted(self.out.rglob("*.html")):
            if b'http-equiv="refresh"' in path.read_bytes():
                continue
            relative = path.relative_to(self.out).as_posix()
            urls.append(self.url("/" + relative.removesuffix("index.html")))
        return urls


# --- the browser ---------------------------------------------------------------------------


def find_chromium() -> str | None:
    """Debian's Chromium, or another one on PATH; Playwright cannot download its own here."""
    for candidate in CHROMIUM_CANDIDATES:
        path = shutil.which(candidate)
        if path:
            return path
    return None


class RewardfulScript(enum.Enum):
    """What a test's browser gets when a page asks for Rewardful's ``rw.js``."""

    SERVED = "served"  # the local stand-in, at once
    BLOCKED = "blocked"  # aborted, as an ad blocker does
    HELD = "held"  # not answered until the test calls NetworkGate.release_held()


@dataclass
class NetworkGate:
    """The only way a test browser reaches the network: local servers, a stand-in, nothing else.

    ``blocked`` records every aborted outside request so that tests can check that none of
    them was the site's own resource addressed to its production host.
    """

    standin: str
    rewardful_script: RewardfulScript = RewardfulScript.SERVED
    blocked: list[str] = field(default_factory=list)
    held: list[Route] = field(default_factory=list)
    # Hosts served on this machine; the deploy test adds the example's names (resolved to
    # 127.0.0.1 by CHROMIUM_ARGS) to reach the real nginx serving them.
    local_hosts: frozenset[str] = frozenset({"127.0.0.1"})

    def handle(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in self.local_hosts:
            route.continue_()
        elif url.split("?")[0] == REWARDFUL_SCRIPT_URL:
            self._answer_rewardful(route)
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def _answer_rewardful(self, route: Route) -> None:
        if self.rewardful_script is RewardfulScript.SERVED:
            route.fulfill(status=200, content_type="application/javascript", body=self.standin)
        elif self.rewardful_script is RewardfulScript.BLOCKED:
            route.abort("blockedbyclient")
        else:
            self.held.append(route)

    def release_held(self) -> None:
        """Deliver the stand-in to every request that was held (the slow script arrives)."""
        while self.held:
            self.held.pop().fulfill(
                status=200, content_type="application/javascript", body=self.standin
            )


def standin_script(affiliates: dict[str, dict[str, Any]] = AFFILIATES) -> str:
    """The Rewardful stand-in's source with the test affiliates filled in."""
    return STANDIN_SCRIPT.read_text(encoding="utf-8").replace(
        "__CAMPAIGNS__", json.dumps(affiliates)
    )
