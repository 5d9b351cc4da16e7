"""The local smoke test of docs/deploy.md, followed literally: its command, its URL.

The command is read from the document and run as it stands in the repository (the example
site); Chromium opens the URL the document gives, with Rewardful's script answered by the
local stand-in (which knows the document's affiliate token), and buys. The dry-run page must
show the referral; ``public/`` must be left as it was.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from e2e_support import AFFILIATES, ROOT, NetworkGate, standin_script
from playwright.sync_api import Browser

pytest_plugins = ["e2e.fixtures"]
pytestmark = pytest.mark.browser

DOC = (ROOT / "docs" / "deploy.md").read_text()


def documented_command() -> list[str]:
    (line,) = re.findall(r"^\s*(\.venv/bin/python build\.py --serve.*)$", DOC, re.MULTILINE)
    return shlex.split(line)


def documented_query() -> str:
    """What the document says to add to the printed address: ``?via=<token>``."""
    (query,) = re.findall(r"with `(\?via=[\w-]+)` added", DOC)
    return query


def public_state() -> dict[str, float]:
    public = ROOT / "public"
    return (
        {str(path): path.stat().st_mtime for path in public.rglob("*")} if public.exists() else {}
    )


def test_the_documented_local_smoke_test_works(chromium: Browser, tmp_path: Path) -> None:
    command, query = documented_command(), documented_query()
    token = query.rsplit("via=", 1)[1]
    before = public_state()
    log = tmp_path / "preview.log"
    python = str(Path(ROOT / command[0]))
    with log.open("w") as output:
        preview = subprocess.Popen(
            [python, *command[1:]],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},  # no Stripe key: a dry run
        )
    gate = NetworkGate(standin=standin_script({**AFFILIATES, token: AFFILIATES["partner"]}))
    context = chromium.new_context()
    context.set_default_timeout(15_000)
    context.route("**/*", gate.handle)
    try:
        printed = _wait_for(log, preview)
        page = context.new_page()
        page.goto(printed + query)
        page.wait_for_function("() => window.Rewardful !== undefined")
        referral = page.evaluate("() => window.Rewardful.referral")
        assert referral
        page.locator("nav.site-nav a[href$='/pricing/']").first.click()
        page.wait_for_url("**/pricing/")
        page.locator("form[data-rewardful] button[type='submit']").first.click()
        page.wait_for_selector("pre#params")
        params = json.loads(page.locator("pre#params").text_content())
    finally:
        context.close()
        preview.terminate()
        preview.wait(timeout=30)
    assert params["client_reference_id"] == referral
    assert public_state() == before, "the smoke test changed public/"


def _wait_for(log: Path, preview: subprocess.Popen) -> str:
    """The address the preview prints once it serves (``http://127.0.0.1:PORT/``)."""
    deadline = time.monotonic() + 60
    while not (printed := re.search(r"Previewing at (\S+) \(checkout: dry run", log.read_text())):
        assert preview.poll() is None, f"the documented command exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"the preview did not start:\n{log.read_text()}"
        time.sleep(0.1)
    return printed[1]
