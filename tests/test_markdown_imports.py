"""Rendering Markdown imports what rendering needs: PyMdown Extensions' use of urllib.request
is deferred to a call (launchkit.site.markdown_extensions.urllib_request_deferred)."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

from launchkit.site.markdown_extensions import urllib_request_deferred

ROOT = Path(__file__).resolve().parent.parent

RENDER_IN_A_NEW_PROCESS = """
import sys
from launchkit.site.markup import MarkdownRenderer
body = "# Title\\n\\n```python\\nx = 1\\n```\\n\\n~~gone~~ http://example.com - [ ] task\\n"
html = MarkdownRenderer().render(body, source="page.md").html
heavy = ("urllib.request", "ssl", "http.client", "email.parser")
print(sorted(name for name in heavy if name in sys.modules))
import pymdownx.util
print(pymdownx.util.path2url("/a b/c.txt"), pymdownx.util.url2path("/a%20b/c.txt"))
import urllib.request
print(callable(urllib.request.urlopen), "ssl" in sys.modules)
"""


def test_rendering_imports_no_urllib_request_until_called() -> None:
    done = subprocess.run(
        [sys.executable, "-c", RENDER_IN_A_NEW_PROCESS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines() == ["[]", "/a%20b/c.txt /a b/c.txt", "True True"]


def test_an_imported_urllib_request_is_left_alone() -> None:
    with urllib_request_deferred():
        from urllib.request import pathname2url

        assert sys.modules["urllib.request"] is urllib.request
    assert pathname2url is urllib.request.pathname2url
