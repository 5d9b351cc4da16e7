"""``deploy/nginx.conf`` as a user installs it, run by Debian's real nginx.

The file is used as it is, except for what a test must change: its ports (free ones on
127.0.0.1), its certificate (self-signed, made here with openssl), the site's folder and the
checkout's upstream port. nginx serves the example site built by ``build.py`` over TLS and
proxies the checkout to ``checkout_server.py``; Chromium (which resolves the example's
hosts to 127.0.0.1) follows an affiliate link, buys, and lands on the Stripe stand-in.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from e2e_support import (
    ROOT,
    NetworkGate,
    build_site,
    checkout_server,
    free_port,
    standin_script,
    write_test_config,
)
from playwright.sync_api import Browser
from stripe_stub import StripeStub, catalogue_prices

from launchkit.site.publish import STAGING

pytest_plugins = ["e2e.fixtures"]

CONFIG = ROOT / "deploy" / "nginx.conf"
SITE_HOST, PAY_HOST = "beacon.example", "pay.beacon.example"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Deployment:
    https_port: int
    http_port: int
    site_origin: str
    public: Path
    stub: StripeStub

    def get(self, host: str, path: str) -> Answer:
        """GET ``path`` from nginx for ``host`` over TLS (``host`` given by SNI and Host),
        connecting to 127.0.0.1 as the browser's resolver rules do."""
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # self-signed
        connection = http.client.HTTPSConnection(host, self.https_port, context=context)
        connection._create_connection = lambda address, *args: socket.create_connection(
            ("127.0.0.1", address[1]), *args
        )
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read().decode(errors="replace")  # images too
            return Answer(response.status, response.headers, body)
        finally:
            connection.close()


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: http.client.HTTPMessage
    text: str


def nginx_binary() -> str:
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is not installed: CI must install Debian's nginx package")
        pytest.skip("nginx is not installed (Debian package nginx)")
    return binary


def substituted(
    text: str, *, https: int, http: int, upstream: int, cert: Path, key: Path, public: Path
) -> str:
    """deploy/nginx.conf with the test's ports, certificate, site folder and upstream."""
    ipv6 = _ipv6_loopback()
    text = re.sub(r"listen 80;", f"listen 127.0.0.1:{http};", text)
    text = re.sub(r"listen 443 ", f"listen 127.0.0.1:{https} ", text)
    if ipv6:
        text = text.replace("listen [::]:80;", f"listen [::1]:{http};")
        text = text.replace("listen [::]:443 ", f"listen [::1]:{https} ")
    else:
        text = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", text)
    text = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", text)
    text = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", text)
    text = text.replace("root /var/www/beacon/public;", f"root {public};")
    return text.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def main_config(folder: Path, site_conf: Path) -> str:
    """The http{} context the example is included in, as /etc/nginx/nginx.conf would be."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the pytest tmp dir
    return f"""{user}daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {site_conf};
}}
"""


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            f"/CN={SITE_HOST}",
            "-addext",
            f"subjectAltName=DNS:{SITE_HOST},DNS:{PAY_HOST}",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def nginx_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict]:
    binary = nginx_binary()
    folder = tmp_path_factory.mktemp("nginx")
    ports = {"https": free_port(), "http": free_port(), "upstream": free_port()}
    cert, key = self_signed(folder)
    public = folder / "public"
    site_conf = folder / "beacon.conf"
    site_conf.write_text(
        substituted(CONFIG.read_text(), cert=cert, key=key, public=public, **ports)
    )
    main = folder / "nginx.conf"
    main.write_text(main_config(folder, site_conf))
    return binary, main, ports


def test_the_example_config_passes_nginx_t(nginx_files) -> None:
    binary, main, _ = nginx_files
    result = subprocess.run([binary, "-t", "-c", str(main)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "[warn]" not in result.stderr


@pytest.fixture(scope="module")
def deployment(nginx_files, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    binary, main, ports = nginx_files
    site_origin = f"https://{SITE_HOST}:{ports['https']}"
    workdir = tmp_path_factory.mktemp("site")
    config = write_test_config(workdir, site_origin, f"https://{PAY_HOST}:{ports['https']}")
    public = main.parent / "public"
    build_site(config, public)
    with StripeStub(prices=catalogue_prices(config.products)) as stub:
        log = workdir / "checkout.log"
        with checkout_server(config, ports["upstream"], stub.url, log):
            process = subprocess.Popen([binary, "-c", str(main)], stderr=subprocess.PIPE)
            try:
                _wait_for_port(ports["https"], process)
                yield Deployment(ports["https"], ports["http"], site_origin, public, stub)
            finally:
                process.terminate()
                process.wait(timeout=10)


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nginx did not listen")


IMMUTABLE = "public, max-age=31536000, immutable"
SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


@pytest.mark.parametrize(
    ("path", "status", "cache"),
    [
        ("/", 200, "no-cache"),
        ("/pricing/", 200, "no-cache"),
        ("/plans/", 200, "no-cache"),  # an alias of /pricing/: its redirect page
        ("/sitemap.xml", 200, "no-cache"),
        ("/blog/feed.xml", 200, "no-cache"),
        # Fingerprinted (named by content, found by the pattern): a year.
        ("/css/site.*.css", 200, IMMUTABLE),
        ("/images/logo.*.svg", 200, IMMUTABLE),
        ("/images/social-card.*-480.webp", 200, IMMUTABLE),
        ("/social/pricing.*.png", 200, IMMUTABLE),
        # Kept under its own name for outside links: an hour.
        ("/favicon.svg", 200, "public, max-age=3600"),
        ("/css/site.css", 404, "no-cache"),  # only the hashed name is published
        ("/css/site.0123abcd.css", 404, "no-cache"),  # an old name: the 404 page, not cached
        ("/no/such/page/", 404, "no-cache"),
        ("/.launchkit-build", 404, "no-cache"),
    ],
)
def test_static_answers_carry_security_and_cache_headers(
    deployment: Deployment, path: str, status: int, cache: str
) -> None:
    if "*" in path:
        (found,) = deployment.public.glob(path.lstrip("/"))
        path = "/" + found.relative_to(deployment.public).as_posix()
    answer = deployment.get(SITE_HOST, path)
    assert answer.status_code == status
    for name, value in SECURITY.items():
        assert answer.headers[name] == value, name
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"] == cache
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
    if status == 404:
        assert "<html" in answer.text.lower() and "launchkit" not in answer.text.lower()


def test_the_build_marker_exists_but_is_never_served(deployment: Deployment) -> None:
    assert (deployment.public / ".launchkit-build").exists()
    assert deployment.get(SITE_HOST, "/.launchkit-build").status_code == 404


def test_files_a_running_build_stages_are_never_served(deployment: Deployment) -> None:
    """A build writes its changed files into a dot-folder of the output folder until it has
    worked: a visitor meanwhile gets the last good site, never a file in waiting."""
    staging = deployment.public / STAGING
    staging.mkdir()
    try:
        (staging / "waiting").write_text("<html>not published yet</html>", encoding="utf-8")
        assert deployment.get(SITE_HOST, f"/{STAGING}/waiting").status_code == 404
    finally:
        shutil.rmtree(staging)


def test_plain_http_redirects_to_https(deployment: Deployment) -> None:
    answer = requests.get(
        f"http://127.0.0.1:{deployment.http_port}/pricing/",
        headers={"Host": SITE_HOST},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 301
    assert answer.headers["Location"] == f"https://{SITE_HOST}/pricing/"


@pytest.mark.browser
def test_affiliate_buys_through_nginx_over_tls(deployment: Deployment, chromium: Browser) -> None:
    gate = NetworkGate(
        standin=standin_script(), local_hosts=frozenset({"127.0.0.1", SITE_HOST, PAY_HOST})
    )
    context = chromium.new_context(ignore_https_errors=True)
    context.set_default_timeout(15_000)
    context.route("**/*", gate.handle)
    try:
        page = context.new_page()
        page.goto(f"{deployment.site_origin}/?via=partner")
        page.wait_for_function("() => window.Rewardful !== undefined")
        referral = page.evaluate("() => window.Rewardful.referral")
        assert UUID.fullmatch(referral)
        page.goto(f"{deployment.site_origin}/pricing/")
        form = page.locator("form[data-rewardful]:has(input[name='product'][value='lifetime'])")
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            form.first.locator("button[type='submit']").click()
        assert answer.value.status == 303
        assert answer.value.url.startswith(f"https://{PAY_HOST}:{deployment.https_port}/")
        page.wait_for_url(f"{deployment.stub.url}/pay/**")
    finally:
        context.close()
    (sent,) = deployment.stub.sessions
    assert sent["client_reference_id"] == referral
