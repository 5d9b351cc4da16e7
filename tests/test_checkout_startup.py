"""`python checkout_server.py` as the owner runs it: refusals, .env, real serving processes
(gunicorn workers), and `gunicorn checkout_server:app`; and the environment it reads."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from bs4 import BeautifulSoup
from build_support import ENDPOINT
from stripe_stub import StripeStub, catalogue_prices
from test_checkout_params import REFERRAL

from launchkit.checkout.serving import GRACEFUL_TIMEOUT
from launchkit.checkout.stripe_api import environ_over_dotenv
from launchkit.config import load_config

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "checkout_server.py"
BUY_PATH = urlsplit(ENDPOINT).path  # the shared fixture site's checkout endpoint


def run_server(site: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run the server on the site in folder ``site`` and expect it to refuse to start."""
    return subprocess.run(
        [sys.executable, str(SERVER), "--config", str(site / "site.toml"), "--port", "0", *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, "STRIPE_SECRET_KEY is not set"),
        ({"STRIPE_SECRET_KEY": "  "}, "STRIPE_SECRET_KEY is not set"),
        ({"STRIPE_SECRET_KEY": "pk_test_abc123"}, "publishable key"),
        ({"STRIPE_SECRET_KEY": "whatever"}, "does not look like a Stripe secret key"),
        (
            {"STRIPE_SECRET_KEY": "sk_test_abc", "STRIPE_API_BASE": "localhost:12111"},
            "STRIPE_API_BASE must be an http(s) URL",
        ),
    ],
)
def test_refuses_to_start_with_a_one_line_reason(site: Path, env, reason: str) -> None:
    result = run_server(site, env)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert reason in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("key", ["sk_live_abc123", "rk_live_abc123"])
def test_refuses_a_live_key_with_an_http_site(site: Path, key: str) -> None:
    config = site / "site.toml"
    config.write_text(
        config.read_text().replace("https://shop.example/thanks/", "http://shop.example/t/")
    )
    result = run_server(site, {"STRIPE_SECRET_KEY": key})
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "live key" in line and "http://shop.example/t/" in line
    assert key not in result.stderr


def test_a_bad_config_is_named_without_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text("[site]\ntitle = 'x'\n")
    result = run_server(tmp_path, {"STRIPE_SECRET_KEY": "sk_test_abc"})
    assert result.returncode == 2
    assert str(config) in result.stderr and "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen) -> None:
    """Wait for the server to answer: ~1 s when quiet, over 10 s on a loaded 2-core machine."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/healthz", timeout=1)
            return
        except requests.ConnectionError:
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within 30 s")


@contextmanager
def serving_process(
    command: list[str], env: dict[str, str], port: int
) -> Iterator[tuple[str, int]]:
    """Run a server command that listens on ``port`` (also in ``PORT``); yield URL and pid."""
    process = subprocess.Popen(
        command,
        env={"PATH": os.environ["PATH"], "HOST": "127.0.0.1", "PORT": str(port), **env},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        # gunicorn stops in ~1 s. A worker still booting when the signal comes may be waited
        # for until the grace period ends (GRACEFUL_TIMEOUT, 30 s) and then killed: seen
        # twice in CI on a loaded machine, so this waits past that before it fails.
        process.wait(timeout=GRACEFUL_TIMEOUT + 15)


@contextmanager
def serving(site: Path, env: dict[str, str], *args: str) -> Iterator[str]:
    """``python checkout_server.py`` for the site in folder ``site`` on a free port, with
    HOST/PORT from the env."""
    command = [sys.executable, str(SERVER), "--config", str(site / "site.toml"), *args]
    with serving_process(command, env, free_port()) as (url, _):
        yield url


def worker_pids(pid: int, expected: int) -> set[int]:
    """The child processes of ``pid`` (Linux), once there are ``expected`` of them or 30 s
    have passed: gunicorn forks its workers one after another, and a loaded machine may
    leave seconds between two (waiting for the count to stop changing was not enough)."""
    deadline = time.monotonic() + 30
    while True:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if len(children) >= expected or time.monotonic() > deadline:
            return {int(child) for child in children}
        time.sleep(0.1)


def stripe_for(site: Path) -> StripeStub:
    """A Stripe stand-in holding the prices of the site's catalogue (checked at start)."""
    return StripeStub(prices=catalogue_prices(load_config(site / "site.toml").products))


def buy(url: str) -> requests.Response:
    return requests.post(
        url + BUY_PATH,
        data={"product": "pro", "referral": REFERRAL},
        allow_redirects=False,
        timeout=30,
    )


def test_serves_checkouts_with_the_key_from_dotenv(site: Path) -> None:
    with stripe_for(site) as stub:
        (site / ".env").write_text(
            f"STRIPE_SECRET_KEY=sk_test_fromdotenv\nSTRIPE_API_BASE={stub.url}\n"
        )
        with serving(site, {}) as url:
            answer = buy(url)
        assert answer.status_code == 303
        assert answer.headers["Location"].startswith(stub.url + "/pay/cs_test_")
        assert stub.requests[0].headers["authorization"] == "Bearer sk_test_fromdotenv"
        assert stub.sessions[0]["client_reference_id"] == REFERRAL


def test_dry_run_needs_no_key(site: Path) -> None:
    with serving(site, {}, "--dry-run") as url:
        answer = requests.post(url + BUY_PATH, data={"product": "pro"}, timeout=30)
    assert answer.status_code == 200
    soup = BeautifulSoup(answer.text, "html.parser")
    assert '"mode": "subscription"' in soup.find("pre", id="params").get_text()


def test_serves_with_the_number_of_worker_processes_asked_for(site: Path) -> None:
    with stripe_for(site) as stub:
        env = {"STRIPE_SECRET_KEY": "sk_test_workers", "STRIPE_API_BASE": stub.url}
        command = [sys.executable, str(SERVER), "--config", str(site / "site.toml")]
        command += ["--workers", "3"]
        with serving_process(command, env, free_port()) as (url, pid):
            assert len(worker_pids(pid, 3)) == 3
            answers = [buy(url) for _ in range(6)]
    assert [answer.status_code for answer in answers] == [303] * 6
    assert len(stub.sessions) == 6
    assert stub.requests[0].path.startswith("/v1/prices/")  # the catalogue, checked at start


def test_each_worker_listens_and_a_taken_port_is_refused(site: Path) -> None:
    """Each worker listens on a socket of its own (SO_REUSEPORT), so that the kernel spreads
    connections over the workers; a second server on the same port is refused rather than
    let in beside the first to take half its buyers."""
    with stripe_for(site) as stub:
        env = {"STRIPE_SECRET_KEY": "sk_test_port", "STRIPE_API_BASE": stub.url}
        command = [sys.executable, str(SERVER), "--config", str(site / "site.toml")]
        port = free_port()
        with serving_process([*command, "--workers", "2"], env, port) as (url, pid):
            workers = worker_pids(pid, 2)
            listening = [listening_sockets(child, port, at_least=1) for child in workers]
            master = listening_sockets(pid, port)
            second = subprocess.run(
                [*command, "--port", str(port)],
                env={"PATH": os.environ["PATH"], **env},
                capture_output=True,
                text=True,
                timeout=60,
            )
            answer = buy(url)
    assert listening == [1, 1] and master == 0
    assert second.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in second.stderr
    assert "Traceback" not in second.stderr
    assert answer.status_code == 303


def listening_sockets(pid: int, port: int, *, at_least: int = 0) -> int:
    """How many TCP sockets listening on ``port`` the process ``pid`` holds (Linux /proc),
    waiting up to 30 s for ``at_least`` of them: a worker binds its own while it boots."""
    deadline = time.monotonic() + 30
    while True:
        inodes = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
        count = sum(_target(fd) in inodes for fd in Path(f"/proc/{pid}/fd").iterdir())
        if count >= at_least or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


def _target(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except FileNotFoundError:  # closed meanwhile
        return ""


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_refuses_a_number_of_workers_that_is_not_a_positive_integer(
    site: Path, workers: str
) -> None:
    result = run_server(site, {"STRIPE_SECRET_KEY": "sk_test_abc"}, "--workers", workers)
    assert result.returncode == 2
    assert "--workers" in result.stderr and "Traceback" not in result.stderr


def module_app_servers(port: int) -> dict[str, list[str]]:
    """Commands that serve ``checkout_server:app`` on ``port``, as the docs run them."""
    bin_dir = Path(sys.executable).parent
    return {
        # gunicorn with the project's settings (gevent workers, the app built in the master).
        "gunicorn": [
            str(bin_dir / "gunicorn"), "--config", "python:launchkit.checkout.gunicorn_conf",
            "--bind", f"127.0.0.1:{port}", "checkout_server:app",
        ],
        # Any WSGI server: waitress, with threads and no gevent at all.
        "waitress": [
            str(bin_dir / "waitress-serve"), f"--listen=127.0.0.1:{port}", "checkout_server:app",
        ],
    }  # fmt: skip


@pytest.mark.parametrize("server", ["gunicorn", "waitress"])
def test_wsgi_servers_serve_the_module_app(site: Path, server: str) -> None:
    """``checkout_server:app``, config from SITE_CONFIG, under gunicorn or another server."""
    with stripe_for(site) as stub:
        env = {
            "STRIPE_SECRET_KEY": "sk_test_module",
            "STRIPE_API_BASE": stub.url,
            "SITE_CONFIG": str(site / "site.toml"),
        }
        port = free_port()
        with serving_process(module_app_servers(port)[server], env, port) as (url, _):
            answer = buy(url)
    assert answer.status_code == 303
    assert stub.sessions[0]["client_reference_id"] == REFERRAL


def test_the_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(
        "STRIPE_SECRET_KEY=sk_test_fromdotenv\n"
        "STRIPE_API_BASE=http://127.0.0.1:12111\n"
        "LAUNCHKIT_NAME_WITHOUT_VALUE\n"
    )
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_fromenvironment")
    monkeypatch.delenv("STRIPE_API_BASE", raising=False)
    monkeypatch.delenv("LAUNCHKIT_NAME_WITHOUT_VALUE", raising=False)
    environ = environ_over_dotenv(tmp_path)
    assert environ["STRIPE_SECRET_KEY"] == "sk_test_fromenvironment"
    assert environ["STRIPE_API_BASE"] == "http://127.0.0.1:12111"  # .env fills the gaps
    assert "LAUNCHKIT_NAME_WITHOUT_VALUE" not in environ
    assert environ["PATH"] == os.environ["PATH"]


def test_without_dotenv_the_environment_is_all(tmp_path: Path) -> None:
    assert environ_over_dotenv(tmp_path) == dict(os.environ)
