"""Running ``python checkout_server.py`` as an owner does, and talking to it as clients do.

``CheckoutProcess`` starts the server on a free port of 127.0.0.1 against a Stripe stand-in,
waits for ``/healthz`` and keeps its log in a file; ``raw_request`` speaks HTTP over a bare
socket, for the requests no HTTP library will send (bad bytes, broken framing, half-closed).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "checkout_server.py"
TEST_KEY = "sk_test_51HostileTestsKeyNeverShown"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CheckoutProcess:
    """``checkout_server.py --config SITE`` on a free port; ``stop()`` sends SIGTERM."""

    def __init__(self, config: Path, stripe_url: str, log: Path, *args: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        environ = {
            "PATH": os.environ["PATH"],
            "STRIPE_SECRET_KEY": TEST_KEY,
            "STRIPE_API_BASE": stripe_url,
            **env,
        }
        command = [sys.executable, str(SERVER), "--config", str(config)]
        command += ["--port", str(self.port), *args]
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=environ, stdout=output, stderr=subprocess.STDOUT
            )
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"checkout_server.py exited:\n{self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"checkout_server.py did not listen:\n{self.log.read_text()}")

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def log_lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()

    def access_lines(self) -> list[dict]:
        """The access lines of a server started with ``LOG_FORMAT=json``."""
        entries = [json.loads(line) for line in self.log_lines()]
        return [entry for entry in entries if entry["logger"] == "launchkit.checkout.access"]

    def __enter__(self) -> CheckoutProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def raw_request(port: int, data: bytes, *, half_close: bool = False, timeout: float = 30) -> bytes:
    """Send ``data`` as it is on a new connection; return all the server answers until it
    closes (or ``timeout``). ``half_close`` shuts our sending side after the data."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> bytes:
    """One answer (with a Content-Length), or all there is until the server closes or the
    socket's timeout; the connection stays open."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def form_post(path: str, body: bytes, *headers: str, keep_alive: bool = False) -> bytes:
    """A buy-form POST with the given raw headers (and Content-Length unless one is given),
    with ``Connection: close`` unless ``keep_alive``."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines.append("Content-Type: application/x-www-form-urlencoded")
    lines += headers
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
