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
"rendered": N, "markdown": N, "files": {path: digest}, "cpu": seconds}`` or ``{"ok": false,
"error": "path:line: message"}``. ``files`` (with ``"digests": true`` in the request): a hash
of every output file's bytes, by path: two processes' outputs are compared while both read
their own. ``cpu``: this process's CPU seconds for the build and the hashes.
``discard``: the output folder is removed after the answer, while the next request is read
and built (a clean build into a fresh folder each time need not wait for the last one's to go).

``build_helper.py --zygote FD`` is the process the build processes are forked from
(:class:`Zygote`): it has imported the libraries a build uses (Jinja, Python-Markdown and
its extensions, Pygments, Pillow, lxml, PyYAML, ...) and never launchkit. For each message
on the Unix socket ``FD`` (``{"cwd": ..., "path": ...}`` with one socket passed along), it
forks a build process that works in ``cwd``, imports launchkit from ``path`` (its current
source, as a new interpreter would) and answers requests on that socket. A test that
changes launchkit's source restarts its build processes often: forked so, a restart costs
launchkit's import and not the libraries' too (half of a process's start).

A message ``{"path": ..., "site": ...}`` instead (with a Unix socket of the same kind passed
along) forks a zygote for that launchkit: it imports launchkit from ``path`` once, reads its
source for the fingerprints and renders the Markdown of ``site``'s pages once (:func:`rehearse`),
then forks a build process for each ``{"cwd": ...}`` on that socket, as the first does. The
build processes of one version of the code then share its import (it was a third of each
restart's CPU time) and the warm libraries (a process's first build cost 2.5 times the next
ones), and each still starts with nothing of any build in memory: the import and the rehearsal
run no build, and launchkit keeps no state in its modules.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import pkgutil
import shutil
import socket
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

if TYPE_CHECKING:  # never imported here at run time: see _serve
    from launchkit.site.keys import Codebase

# What the zygote imports: the libraries that builds use, never launchkit (a missing or
# new one is only imported later, in the build process).
PRELOAD = (
    "jinja2",
    "jinja2.compiler",
    "jinja2.meta",
    "markdown",
    "pygments.lexers",
    "pygments.formatters.html",
    "PIL.Image",
    "PIL.ImageDraw",
    "PIL.ImageFont",
    "PIL.ImageFilter",
    "lxml.html",
    "yaml",
    "msgspec",
    "slugify",
    "sqlite3",
    "tomllib",
    "multiprocessing",
)
# Packages of Markdown extensions, imported whole: extensions are loaded by name.
PRELOAD_PACKAGES = ("markdown.extensions", "pymdownx")


def main() -> None:
    if sys.argv[1:2] == ["--zygote"]:
        zygote(int(sys.argv[2]))
    else:
        serve(sys.stdin, sys.stdout)


def serve(requests: TextIO, answers: TextIO, code: Codebase | None = None) -> None:
    """Answer the lines of ``requests`` on ``answers`` until ``requests`` closes."""
    with ThreadPoolExecutor(max_workers=1) as remover:
        _serve(requests, answers, remover, code)


def _serve(
    requests: TextIO, answers: TextIO, remover: ThreadPoolExecutor, code: Codebase | None
) -> None:
    # Imported here, never in the zygote: each build process imports the current source.
    from launchkit.config import load_config
    from launchkit.errors import SiteError
    from launchkit.site.builder import build_site
    from launchkit.site.context import BuildContext

    context = BuildContext(codebase=code)
    linked: dict[tuple[int, ...], str] = {}  # digests of hard-linked files, see digests()
    # The fingerprint of the code this process runs: the same for every context it makes.
    code = context.code()
    for line in requests:
        request = json.loads(line)
        out = Path(request["out"])
        if request.get("clean"):
            shutil.rmtree(out, ignore_errors=True)
        changed = request.get("changed")
        if request.get("clean"):
            context = BuildContext(codebase=code)
        elif request.get("fresh"):  # as the CLI: made for this build, told of no change
            context, changed = BuildContext(codebase=code, one_build=True), None
        started = time.process_time()
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
                answer["files"] = digests(out, linked)
            answer["cpu"] = time.process_time() - started
        except SiteError as exc:
            answer = {"ok": False, "error": str(exc)}
        print(json.dumps(answer), file=answers, flush=True)
        if request.get("discard"):
            remover.submit(shutil.rmtree, out, ignore_errors=True)


def zygote(control: int) -> None:
    """Fork a build process or a zygote for one launchkit for each message on the socket
    ``control`` (see the module's text), until it closes."""
    preload()
    forks(control, _build_process_or_zygote)


def _build_process_or_zygote(request: dict, connection: int) -> None:
    (build_process if "cwd" in request else code_zygote)(request, connection)


def forks(control: int, child) -> None:
    """For each message on the socket ``control`` and the socket passed with it, fork a
    process that runs ``child(message, fd)`` (and exits), until ``control`` closes."""
    with socket.socket(fileno=control) as messages:
        while True:
            message, fds, _, _ = socket.recv_fds(messages, 65536, 1)
            if not message:
                break
            if os.fork() == 0:
                messages.close()
                child(json.loads(message), fds[0])
            os.close(fds[0])
            reap(os.WNOHANG)
    # Waited for, the build processes' CPU time counts in the zygote's children's, and so
    # in the test's (``/usr/bin/time pytest ...``).
    reap(0)


def code_zygote(request: dict, control: int) -> None:
    """The zygote of the launchkit in ``request["path"]``: import it, read its source for
    the fingerprints and rehearse the site's Markdown (:func:`rehearse`), then fork a build
    process for each message on the socket ``control``, then exit."""

    def work() -> None:
        use_package(request["path"])
        from launchkit.site.context import BuildContext

        code = BuildContext().code()
        fingerprint(code)
        if "site" in request:
            rehearse(Path(request["site"]))
        forks(control, lambda request, connection: build_process(request, connection, code))

    run_then_exit(work)


def fingerprint(code: Codebase) -> None:
    """Work out every fingerprint a build asks ``code`` for, once for the processes forked
    from here: they run this very source, so each would find the same values."""
    from launchkit.site.cache import code_keys
    from launchkit.site.context import BuildContext

    code_keys(BuildContext(codebase=code))


def rehearse(site: Path) -> None:
    """Render the Markdown of ``site``'s pages once, with a renderer then thrown away.

    A new process's first build otherwise pays twice what the next ones pay: setting up
    Python-Markdown compiles some hundred regular expressions and the first code block of a
    language loads its Pygments lexer and compiles its rules. Those land in caches of
    Python's ``re`` and of the lexer classes, the same whatever text was rendered, which the
    processes forked from here inherit. Nothing of launchkit's is kept: no build ran, the
    renderer is gone, and launchkit keeps no state in its modules."""
    from launchkit.errors import SiteError
    from launchkit.site.content import read_body
    from launchkit.site.markup import MarkdownRenderer

    renderer = MarkdownRenderer()
    for path in sorted((site / "content").rglob("*.md")):
        with contextlib.suppress(SiteError):
            body = read_body(path)
            renderer.render(body.text, source=str(path), first_line=body.first_line)


def use_package(path: str) -> None:
    """Import launchkit from ``path``, here and in the worker processes started from here."""
    if path not in sys.path:
        sys.path.insert(0, path)
    os.environ["PYTHONPATH"] = path


def reap(options: int) -> None:
    """Wait for the build processes that ended (``os.WNOHANG``) or for all (0)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, options)[0]:
            pass


def build_process(request: dict, connection: int, code: Codebase | None = None) -> None:
    """The forked build process: serve the socket ``connection``, then exit. ``code``: the
    fingerprints of its launchkit, if its zygote had them."""

    def work() -> None:
        os.chdir(request["cwd"])
        if "path" in request:  # else forked from the zygote of its launchkit
            use_package(request["path"])
        with (
            socket.socket(fileno=connection) as channel,
            channel.makefile("r", encoding="utf-8") as requests,
            channel.makefile("w", encoding="utf-8") as answers,
        ):
            serve(requests, answers, code)

    run_then_exit(work)


def run_then_exit(work: Callable[[], None]) -> NoReturn:
    """Run ``work`` in a forked process, then end the process at once (its parent's
    cleanups are not its own): status 1, with the traceback on stderr, if it raised."""
    status = 0
    try:
        work()
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        sys.stderr.flush()
        os._exit(status)


def preload() -> None:
    """Import :data:`PRELOAD` and the Markdown extensions, and Pillow's image plugins."""
    names = list(PRELOAD)
    for package in PRELOAD_PACKAGES:
        with contextlib.suppress(ImportError):
            path = importlib.import_module(package).__path__
            names += [f"{package}.{module.name}" for module in pkgutil.iter_modules(path)]
    for name in names:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    assert not [name for name in sys.modules if name.startswith("launchkit")]
    sys.modules["PIL.Image"].init()


def digests(folder: Path, linked: dict[tuple[int, ...], str]) -> dict[str, str]:
    """Every file under ``folder`` by relative path, with a hash of its bytes (os.walk and
    plain strings: pathlib's globbing and joins were half of it for a small site).

    A file with other hard links (an image variant or card linked from the image cache into
    every build's folder) is hashed once per process: ``linked`` keeps its hash by inode,
    size and modification time, which any write to its bytes changes. Its name in each
    build's folder is still looked at, and each process still hashes its own files."""
    found = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            with open(path, "rb") as file:
                status = os.fstat(file.fileno())
                identity = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
                known = linked.get(identity) if status.st_nlink > 1 else None
                if known is None:
                    known = hashlib.blake2b(file.read()).hexdigest()
                    if status.st_nlink > 1:
                        linked[identity] = known
            found[os.path.relpath(path, folder)] = known
    return found


if __name__ == "__main__":
    main()
