"""The Dockerfile's server as ``docker run --read-only`` runs it, without a Docker engine.

docs/deploy.md runs the image with ``--read-only``: nothing is writable but the tmpfs Docker
mounts on ``/dev/shm``. This test runs the image's own ``CMD`` with the image's ``ENV``
(read from the Dockerfile) in a mount namespace where the whole root file system is
read-only, ``/dev/shm`` aside, and checks that it starts, sells and passes its
``HEALTHCHECK``. It needs root (or CAP_SYS_ADMIN) for ``unshare --mount``, as CI has.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from checkout_support import free_port
from stripe_stub import StripeStub, catalogue_prices

from launchkit.config import load_config

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def dockerfile_env() -> dict[str, str]:
    """The ``ENV name=value`` pairs of the Dockerfile (continued lines joined)."""
    text = DOCKERFILE.replace("\\\n", " ")
    pairs = re.findall(r"^ENV\s+(.*)$", text, re.MULTILINE)
    return dict(re.findall(r"(\w+)=(\S+)", " ".join(pairs)))


def dockerfile_exec(instruction: str) -> list[str]:
    """The exec form (JSON list) of ``CMD`` or of ``HEALTHCHECK ... CMD``."""
    text = DOCKERFILE.replace("\\\n", " ")
    line = re.search(rf"^{instruction}\s.*?(\[.*\])\s*$", text, re.MULTILINE)
    assert line, f"no {instruction} in exec form in the Dockerfile"
    command = json.loads(line[1])
    return [sys.executable if part == "python" else part for part in command]


def read_only(command: list[str]) -> list[str]:
    """``command`` in a private mount namespace whose root file system is read-only."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    script = 'mount -o remount,bind,ro / && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "--", *command]


def test_the_image_command_starts_on_a_read_only_root(tmp_path: Path) -> None:
    probe = subprocess.run(read_only(["true"]), capture_output=True, text=True)
    if probe.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot make a read-only mount namespace: {probe.stderr}")
        pytest.skip(f"no mount namespace here (needs root): {probe.stderr.strip()}")
    config = load_config(ROOT / "site.toml")
    port = free_port()
    with StripeStub(prices=catalogue_prices(config.products)) as stub:
        env = {
            "PATH": os.environ["PATH"],
            **dockerfile_env(),
            # What `docker run -p 127.0.0.1:8000:8000 --env-file ...` gives the process; the
            # test listens on loopback only, on a free port.
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "HOME": "/nonexistent",
            "STRIPE_SECRET_KEY": "sk_test_container",
            "STRIPE_API_BASE": stub.url,
        }
        log = tmp_path / "server.log"
        with log.open("wb") as output:
            server = subprocess.Popen(
                read_only(dockerfile_exec("CMD")),
                cwd=ROOT,  # the image's WORKDIR holds the same files
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_for(url, server, log)
            health = subprocess.run(
                read_only(dockerfile_exec("HEALTHCHECK")), env=env, capture_output=True
            )
            answer = requests.post(
                url + config.checkout.endpoint_path,
                data={"product": "pro"},
                allow_redirects=False,
                timeout=30,
            )
        finally:
            server.terminate()
            server.wait(timeout=60)
    assert health.returncode == 0, health.stderr
    assert answer.status_code == 303, log.read_text()
    assert "Read-only file system" not in log.read_text()


def _wait_for(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the image's command exited:\n{log.read_text()}"
        try:
            requests.get(url + "/healthz", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"the server did not answer:\n{log.read_text()}")
