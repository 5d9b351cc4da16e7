"""A build process for tests: reads one JSON request per line, answers one JSON line each.

    {"out": "public", "changed": ["/abs/path", ...] | null, "clean": false, "fresh": false,
     "preview": false, "digests": false, "discard": false}

Run with the site's folder as working folder and ``PYTHONPATH`` naming the launchkit to
test (a copy, when a test changes its source). It keeps one
:class:`~launchkit.site.context.BuildContext` for its life, as the preview does, unless a
request says ``fresh`` (a new one made for one build, told of no change, as each CLI run
makes) or ``clean`` (a clean build with a
fresh context, into a folder emptied first); ``preview`` builds as the preview does (future
pages marked, forms posting to the checkout's path). The answer: ``{"ok": true, "warnings": [...],
"rendered": N, "markdown": N, "files": {path: digest}}`` or ``{"ok": false, "error":
"path:line: message"}``. ``files`` (with ``"digests": true`` in the request): a hash of every
output file's bytes, by path: two processes' outputs are compared while both read their own.
``discard``: the output folder is removed after the answer, while the next request is read
and built (a clean build into a fresh folder each time need not wait for the last one's to go).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from launchkit.config import load_config
from launchkit.errors import SiteError
from launchkit.site.builder import build_site
from launchkit.site.context import BuildContext


def main() -> None:
    with ThreadPoolExecutor(max_workers=1) as remover:
        serve(remover)


def serve(remover: ThreadPoolExecutor) -> None:
    """Answer the requests of stdin until it closes."""
    context = BuildContext()
    # The fingerprint of the code this process runs: the same for every context it makes.
    code = context.code()
    for line in sys.stdin:
        request = json.loads(line)
        out = Path(request["out"])
        if request.get("clean"):
            shutil.rmtree(out, ignore_errors=True)
        changed = request.get("changed")
        if request.get("clean"):
            context = BuildContext(codebase=code)
        elif request.get("fresh"):  # as the CLI: made for this build, told of no change
            context, changed = BuildContext(codebase=code, one_build=True), None
        try:
            config = load_config("site.toml")
            preview = bool(request.get("preview"))
            report = build_site(
                config,
                out,
                clean=bool(request.get("clean")),
                context=context,
                changed=changed,
                preview=preview,
                checkout_endpoint=config.checkout.endpoint_path if preview else None,
            )
            answer = {
                "ok": True,
                "warnings": [str(warning) for warning in report.warnings],
                "rendered": report.rendered,
                "markdown": report.markdown_rendered,
            }
            if request.get("digests"):
                answer["files"] = digests(out)
        except SiteError as exc:
            answer = {"ok": False, "error": str(exc)}
        print(json.dumps(answer), flush=True)
        if request.get("discard"):
            remover.submit(shutil.rmtree, out, ignore_errors=True)


def digests(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by relative path, with a hash of its bytes."""
    return {
        path.relative_to(folder).as_posix(): hashlib.blake2b(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


if __name__ == "__main__":
    main()
