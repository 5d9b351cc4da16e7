"""The live preview of ``python build.py --serve``: build, serve, watch, rebuild, reload.

    start_preview(config_file, port=8000) -> Preview(url, stop())

One local server (waitress, threaded) answers everything a browser needs while editing:

* the site, built into ``.cache/preview/`` beside the config (never ``public/``) with the buy
  forms posting to this same server, served as a static host serves it: ``/x/`` is
  ``x/index.html``, an unknown path is ``404.html`` with status 404;
* ``/__livereload``: a Server-Sent-Events stream that tells each open tab which build is
  current and sends build errors; HTML responses get a ``<script>`` for it injected as they
  are served, so no built file ever contains it. The script names the build, a digest of
  its document's head and the generation of the site's other files: a tab whose new page
  has the same head and generation swaps in the new body instead of reloading
  (``launchkit/site/livereload.js``);
* the other files with a validator (an ``ETag`` from the file's inode, size and mtime, and
  ``Cache-Control: no-cache``): a reload revalidates them instead of fetching them again;
* the checkout app of :mod:`launchkit.checkout.app` at ``[checkout] endpoint``'s path: a dry
  run without ``STRIPE_SECRET_KEY``, Stripe's test mode with a test key, never a live key.

A watchdog observer reports changes in ``content/``, ``templates/``, ``static/`` and the
config file; after a short quiet period one rebuild runs (config included), told which
paths changed, so that it looks at nothing else (an editor's save-to-temp-then-rename is a
move whose destination is the page). A good build reloads the tabs; a :class:`SiteError` is
printed and shown over the last good pages, which keep being served. The rebuild itself is
:func:`launchkit.site.builder.build_site`, with one
:class:`~launchkit.site.context.BuildContext` for the preview's whole life, which keeps the
build's worker processes from one rebuild to the next until the preview stops. The preview's
folder is its own: nobody else writes there, so its files are not checked for edits.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import mimetypes
import os
import queue
import re
import secrets
import sys
import threading
import time
import traceback
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec
import stripe
import waitress.server
import waitress.wasyncore
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .checkout.app import create_app
from .checkout.stripe_api import environ_over_dotenv, make_stripe_client, stripe_settings
from .config import SiteConfig, load_config
from .errors import SiteError
from .site.builder import build_site
from .site.content import PAGE_SUFFIXES, is_hidden
from .site.context import BuildContext

EVENTS_PATH = "/__livereload"
SCRIPT_PATH = "/__livereload.js"
_SCRIPT = (Path(__file__).parent.joinpath("site", "livereload.js")).read_bytes()

# Editors write a file in bursts (truncate, write, rename, chmod): wait for this much quiet
# before rebuilding, so that one save is one build.
DEBOUNCE_SECONDS = 0.05
# Where the system reports a file closed after writing (Linux), that close ends a save: the
# wait is then only for what an editor does in the same instant (a backup, a swap file).
CLOSED_DEBOUNCE_SECONDS = 0.01
# An idle event stream sends a comment this often; writing is how a server thread notices
# that a tab has gone, and each open tab holds one thread.
KEEPALIVE_SECONDS = 10.0
# Each open tab holds a thread for its event stream; the rest serve pages and checkouts.
THREADS = 32
# The file events that change what a build reads; watchdog also reports files being opened
# and closed unwritten, which the build itself does, and which must not start another one.
_CHANGES = frozenset({"created", "modified", "deleted", "moved", "closed"})
_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
_HEAD_END = re.compile(rb"</head\s*>", re.IGNORECASE)
# What in a head only describes the page (its title, meta tags, structured data): the head's
# digest leaves it out, and a tab that swaps in a new body copies it from the new head. A
# page's description is its first paragraph, so an edit there need not reload the page.
_DESCRIPTIVE = re.compile(
    rb"<title\b.*?</title\s*>|<meta\s+(?:name|property)=[^>]*>"
    rb"|<script\s+type=\"application/ld\+json\"\s*>.*?</script\s*>",
    re.IGNORECASE | re.DOTALL,
)
# Text types that need the charset spelled out for a browser to read UTF-8 reliably.
_CHARSET_TYPES = ("text/", "application/javascript", "application/json", "application/xml")
_NO_CACHE = ("Cache-Control", "no-store")  # every reload must fetch the new build
# The other files: kept by the browser, but asked about again (a 304 when unchanged) at
# each use, so that a reload waits for no stylesheet that did not change.
_REVALIDATE = ("Cache-Control", "no-cache")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


# --- the checkout of the preview -----------------------------------------------------------


@dataclass(frozen=True)
class CheckoutMode:
    """How the preview's checkout answers: a dry run, or Stripe's test mode with a client."""

    stripe_client: stripe.StripeClient | None = None
    api_base: str | None = None

    @property
    def description(self) -> str:
        if self.stripe_client is None:
            return "dry run (no STRIPE_SECRET_KEY): the page shows what would be sent to Stripe"
        return "Stripe test mode" + (f" at {self.api_base}" if self.api_base else "")

    def app(self, config: SiteConfig) -> WSGIApp:
        """The checkout app for ``config`` (whose allowed origins include the preview's)."""
        if self.stripe_client is None:
            return create_app(config, dry_run=True)
        return create_app(config, stripe_client=self.stripe_client, stripe_api_base=self.api_base)


def checkout_mode(environ: Mapping[str, str], config: SiteConfig) -> CheckoutMode:
    """The checkout mode the environment asks for; :class:`SiteError` for a live key.

    ``environ`` is the process environment over the ``.env`` beside the config, as for
    ``checkout_server.py``. A preview is for trying the site out: it never takes real money.
    """
    key = environ.get("STRIPE_SECRET_KEY", "").strip()
    if not key:
        return CheckoutMode()
    if re.match(r"(sk|rk)_live_", key):
        raise SiteError(
            "STRIPE_SECRET_KEY is a live key: the preview only takes a test key "
            "(sk_test_... or rk_test_...), or none for a dry run"
        )
    settings = stripe_settings(environ, config)
    return CheckoutMode(make_stripe_client(settings), settings.api_base)


def with_origins(config: SiteConfig, origins: Iterable[str]) -> SiteConfig:
    """``config`` whose checkout also accepts buy forms posted from ``origins``."""
    allowed = [*config.checkout.allowed_origins, *origins]
    checkout = msgspec.structs.replace(config.checkout, allowed_origins=allowed)
    return msgspec.structs.replace(config, checkout=checkout)


# --- live reload: the event stream ---------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """What the pages being served belong to: the build, and the generation of the site's
    other files (stylesheets, scripts, images, feeds), which moves with every build that
    may have changed one of them."""

    build: str
    assets: str


class ReloadHub:
    """The open tabs' event streams, the current build's name and the current build error.

    Each stream gets its own queue of encoded messages; :meth:`reload` and :meth:`error`
    put one in every queue. A stream starts with ``hello`` (the current build) and, while
    the last build failed, that ``error``, so a tab opened at any moment is up to date.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: set[queue.SimpleQueue[bytes | None]] = set()
        self._session = secrets.token_hex(4)  # a restarted server's builds are new builds
        self._count = 0
        self._assets = 0
        # One attribute, replaced whole: a request reads build and generation together.
        self.served = Served(f"{self._session}-0", f"{self._session}-0")
        self._error: bytes | None = None

    @property
    def build(self) -> str:
        """The name of the build being served."""
        return self.served.build

    def reload(self, *, assets_changed: bool = True) -> None:
        """A new build is being served: every tab updates, the error overlay goes.

        ``assets_changed``: whether the build may have changed files other than pages
        (then the tabs reload rather than swap in their page's new body).
        """
        with self._lock:
            self._count += 1
            self._assets += assets_changed
            build = f"{self._session}-{self._count}"
            self.served = Served(build, f"{self._session}-{self._assets}")
            self._error = None
            self._send(_message("reload", build))

    def error(self, text: str, location: str) -> None:
        """The last build failed: every tab shows ``text`` (which names ``location``)."""
        with self._lock:
            self._error = _message("error", json.dumps({"text": text, "location": location}))
            self._send(self._error)

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        with self._lock:
            for stream in self._streams:
                stream.put(None)
            self._streams.clear()

    def stream(self) -> Iterator[bytes]:
        """One tab's messages, until the tab goes or the hub closes."""
        messages: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        with self._lock:
            self._streams.add(messages)
            # retry: a restarted server is found again within half a second
            first = b"retry: 500\n" + _message("hello", self.build) + (self._error or b"")
        try:
            yield first
            while True:
                try:
                    message = messages.get(timeout=KEEPALIVE_SECONDS)
                except queue.Empty:
                    message = b": keep-alive\n\n"
                if message is None:
                    return
                yield message
        finally:
            with self._lock:
                self._streams.discard(messages)

    def _send(self, message: bytes) -> None:
        for stream in self._streams:
            stream.put(message)


def _message(event: str, data: str) -> bytes:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n".encode()


# --- the WSGI app --------------------------------------------------------------------------


class PreviewApp:
    """Serves the built site with live reload, the event stream, and the mounted checkout."""

    def __init__(self, site_dir: Path, hub: ReloadHub) -> None:
        self.site_dir = site_dir
        self.hub = hub
        self.checkout_path: str | None = None
        self.checkout: WSGIApp | None = None

    def mount_checkout(self, path: str, app: WSGIApp) -> None:
        """Answer ``path`` with ``app`` (replacing the previous checkout, if any)."""
        self.checkout, self.checkout_path = app, path

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        path = _request_path(environ)
        checkout = self.checkout  # one read: a rebuild may swap it meanwhile
        if checkout is not None and path == self.checkout_path:
            return checkout(environ, start_response)
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return _answer(start_response, "405 Method Not Allowed", b"", "text/plain")
        if path == EVENTS_PATH:
            start_response(
                "200 OK", [("Content-Type", "text/event-stream; charset=utf-8"), _NO_CACHE]
            )
            return self.hub.stream()
        if path == SCRIPT_PATH:
            return _answer(start_response, "200 OK", _SCRIPT, "text/javascript")
        return self._site_file(environ, path, start_response)

    def _site_file(self, environ: dict[str, Any], path: str, start_response: Callable[..., Any]):
        served = self.hub.served  # before reading the file: a newer file only updates once more
        found = find_file(self.site_dir, path)
        if isinstance(found, _Redirect):
            query = environ.get("QUERY_STRING", "")
            location = quote(found.location) + (f"?{query}" if query else "")
            start_response("301 Moved Permanently", [("Location", location), _NO_CACHE])
            return [b""]
        status = "200 OK"
        if found is None:
            status, found = "404 Not Found", self.site_dir / "404.html"
        content_type = _content_type(found)
        if not content_type.startswith("text/html"):
            return _site_asset(environ, found, content_type, start_response)
        try:
            body = found.read_bytes()
        except OSError:  # no 404.html, or the build swapped the folder while we read
            body = b"<!doctype html><title>Not found</title><body><p>Not found.</p></body>"
        body = inject_script(body, served)
        if environ["REQUEST_METHOD"] == "HEAD":
            start_response(status, _headers(content_type, len(body)))
            return [b""]
        return _answer(start_response, status, body, content_type)


@dataclass(frozen=True)
class _Redirect:
    location: str


def find_file(site_dir: Path, url_path: str) -> Path | _Redirect | None:
    """The built file for ``url_path``, a redirect to add a slash to a folder, or None.

    Only files inside ``site_dir`` are ever found: ``..``, ``.`` and backslash segments are
    refused before touching the disk, and symbolic links must stay inside.
    """
    parts = [part for part in url_path.split("/") if part]
    if any(part in (".", "..") or "\\" in part or "\0" in part for part in parts):
        return None
    target = site_dir.joinpath(*parts)
    if target.is_dir():
        if not url_path.endswith("/"):
            return _Redirect(url_path + "/")
        target = target / "index.html"
    if not target.is_file() or not target.resolve().is_relative_to(site_dir.resolve()):
        return None
    return target


def _site_asset(
    environ: dict[str, Any], path: Path, content_type: str, start_response: Callable[..., Any]
):
    """A built file other than a page, with a validator; 304 when the tab has it already."""
    try:
        stat = path.stat()
        body = b"" if environ["REQUEST_METHOD"] == "HEAD" else path.read_bytes()
    except OSError:  # the build replaced or removed it meanwhile: the tab asks again
        return _answer(start_response, "404 Not Found", b"", "text/plain")
    # The inode too: the build replaces a changed file by renaming a new one over it, and
    # a copied static file keeps its source's mtime.
    etag = f'"{stat.st_ino:x}-{stat.st_size:x}-{stat.st_mtime_ns:x}"'
    if etag in environ.get("HTTP_IF_NONE_MATCH", ""):
        start_response("304 Not Modified", [("ETag", etag), _REVALIDATE])
        return [b""]
    headers = [("Content-Type", content_type), ("Content-Length", str(stat.st_size))]
    start_response("200 OK", [*headers, ("ETag", etag), _REVALIDATE])
    return [body]


def inject_script(html: bytes, served: Served) -> bytes:
    """``html`` with the live-reload script before its last ``</body>`` (else at the end).

    The script names the build, the generation of the other files and a digest of the
    document up to the end of its ``<head>`` (of all of it when there is none, so that any
    change of such a page reloads it), descriptive elements left out: what a tab compares
    to swap in a new body.
    """
    head_end = _HEAD_END.search(html)
    head = _DESCRIPTIVE.sub(b"", html[: head_end.end()]) if head_end else html
    head_digest = hashlib.blake2b(head, digest_size=12).hexdigest()
    tag = (
        f'<script src="{SCRIPT_PATH}" data-build="{served.build}"'
        f' data-assets="{served.assets}" data-head="{head_digest}"></script>'
    ).encode()
    ends = list(_BODY_END.finditer(html))
    at = ends[-1].start() if ends else len(html)
    return html[:at] + tag + html[at:]


def _request_path(environ: dict[str, Any]) -> str:
    # PEP 3333: PATH_INFO is the decoded path, as latin-1 characters of its bytes.
    return environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace") or "/"


def _content_type(path: Path) -> str:
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith(_CHARSET_TYPES) else guessed


def _headers(content_type: str, length: int) -> list[tuple[str, str]]:
    return [("Content-Type", content_type), ("Content-Length", str(length)), _NO_CACHE]


def _answer(start_response: Callable[..., Any], status: str, body: bytes, content_type: str):
    if not content_type.endswith("charset=utf-8") and content_type.startswith(_CHARSET_TYPES):
        content_type += "; charset=utf-8"
    start_response(status, _headers(content_type, len(body)))
    return [body]


# --- watching and rebuilding ---------------------------------------------------------------


class _Changes(FileSystemEventHandler):
    """Tells ``notify`` which paths of the sources changed (of the config's folder, only the
    config file), or None when the next build must look at every file: a folder created,
    deleted or moved (the files that come with it are reported late or not at all, and a
    build trusting the paths would miss them), or events the system dropped."""

    def __init__(
        self, notify: Callable[..., None], config_file: Path, *, reports_close: bool
    ) -> None:
        self.notify = notify
        self.config_file = config_file
        # Where the system reports a file closed after writing (Linux), that is when a save
        # is complete: a build started by the "modified" of its truncation would read a
        # half-written file, and a second build would follow. A "created" still counts: a
        # file renamed in from an unwatched folder (an editor's save) gives only that.
        self.ignored = {"modified"} if reports_close else set()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _CHANGES or (
            event.is_directory and event.event_type == "modified"
        ):
            return
        if not event.is_directory and event.event_type in self.ignored:
            return
        paths = {
            Path(os.fsdecode(event.src_path)),
            Path(os.fsdecode(event.dest_path or event.src_path)),
        }
        folder = self.config_file.parent
        # The config's folder is watched alone for the config file; .cache/ and the rest of
        # the project are not the site's sources.
        relevant = {str(p) for p in paths if p.parent != folder or p == self.config_file}
        if relevant and event.is_directory:
            self.notify(None)
        elif relevant:
            self.notify(relevant, closed=event.event_type == "closed")


class _LostEvents(logging.Handler):
    """Hears watchdog say that the system dropped file events (Linux's inotify queue
    overflowed, as a checkout of thousands of files can make it): watchdog's only report of
    it is this warning, and the next build must look at every file."""

    LOGGER = "watchdog.observers.inotify_c"

    def __init__(self, notify: Callable[[set[str] | None], None]) -> None:
        super().__init__(logging.WARNING)
        self.notify = notify

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage():
            self.notify(None)


class _Stop:
    """What :meth:`Rebuilder._wait_for_quiet` gives when the preview stops."""


_STOP = _Stop()


class Rebuilder:
    """Rebuilds once per burst of changes, in its own thread, with the paths they touched;
    ``prepare()`` runs in that thread when it starts and after each rebuild, before waiting
    for the next change (a change meanwhile waits for it: the rebuild would need it)."""

    def __init__(
        self, rebuild: Callable[[set[str] | None], object], prepare: Callable[[], object]
    ) -> None:
        self._rebuild = rebuild
        self._prepare = prepare
        self._wake = threading.Condition()
        self._last_change: float | None = None
        self._changed: set[str] | None = set()  # None: look at every file
        self._quiet = 0.0  # how long to wait for quiet after this burst's last change
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="launchkit-rebuild", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def changed(self, paths: set[str] | None, *, closed: bool = False) -> None:
        """Sources changed (None: which ones is not known): rebuild after
        :data:`DEBOUNCE_SECONDS` without another change (:data:`CLOSED_DEBOUNCE_SECONDS`
        when every change of the burst was a file ``closed`` after writing)."""
        with self._wake:
            if self._last_change is None:
                self._quiet = 0.0
            self._quiet = max(self._quiet, CLOSED_DEBOUNCE_SECONDS if closed else DEBOUNCE_SECONDS)
            self._last_change = time.monotonic()
            if paths is None or self._changed is None:
                self._changed = None
            else:
                self._changed |= paths
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        self._prepare()
        while not isinstance(changed := self._wait_for_quiet(), _Stop):
            self._rebuild(changed)
            self._prepare()

    def _wait_for_quiet(self) -> set[str] | _Stop | None:
        """Wait for a change and then for quiet: the paths changed (None: unknown); a
        :class:`_Stop` when stopping."""
        with self._wake:
            while True:
                if self._stopping:
                    return _STOP
                if self._last_change is None:
                    self._wake.wait()
                    continue
                quiet_at = self._last_change + self._quiet
                if time.monotonic() >= quiet_at:
                    self._last_change = None
                    changed, self._changed = self._changed, set()
                    return changed
                self._wake.wait(quiet_at - time.monotonic())


def only_pages(changed: set[str] | None, content_dir: Path, known: Collection[str]) -> bool:
    """Whether ``changed`` holds only pages' sources in ``content_dir``, and files there that
    no build reads: hidden ones (an editor's swap file) and ones that came and went since
    the last build, whose files ``known`` lists (an editor's backup or test file). After
    such edits the site's other files may gain new names (a page's new image, a social
    card) or change where no tab shows them (feeds, sitemap), never change in place."""

    def page_or_unread(path: str) -> bool:
        if not Path(path).is_relative_to(content_dir):
            return False
        if path.endswith(PAGE_SUFFIXES) or is_hidden(Path(path).relative_to(content_dir)):
            return True
        return path not in known and not os.path.lexists(path)

    return changed is not None and all(page_or_unread(path) for path in changed)


# --- the preview as a whole ----------------------------------------------------------------

HOST = "127.0.0.1"


class Preview:
    """A running preview server: open :attr:`url`; :meth:`stop` ends it and its threads."""

    def __init__(
        self,
        config_file: Path,
        config: SiteConfig,
        mode: CheckoutMode,
        server: waitress.server.BaseWSGIServer,
        app: PreviewApp,
        *,
        drafts: bool,
        verbose: bool,
    ) -> None:
        self.config_file = config_file
        self.mode = mode
        self.app = app
        self.drafts = drafts
        self.verbose = verbose
        port = server.effective_port
        self.url = f"http://{HOST}:{port}/"
        # The tab's Origin when it posts a buy form, whichever of the two names it used.
        self.origins = (f"http://127.0.0.1:{port}", f"http://localhost:{port}")
        self._server = server
        self._server_thread = threading.Thread(
            target=server.run, name="launchkit-preview", daemon=True
        )
        self._rebuilder = Rebuilder(self.rebuild, self.prepare)
        self._lost_events = _LostEvents(self._rebuilder.changed)
        # What each rebuild reuses of the last one, its worker processes included: a
        # template edit renders every page over them, with no interpreter to start.
        self.context = BuildContext(keep_workers=True)
        self._observer = Observer()
        # Mounted now so that buy buttons work even when the first build fails.
        app.mount_checkout(
            config.checkout.endpoint_path, mode.app(with_origins(config, self.origins))
        )
        self._watched = [
            folder
            for folder in (config.content_dir, config.templates_dir, config.static_dir)
            if folder.is_dir()
        ]
        self._content_dir = config.content_dir
        # Whether a change since the last published build may have changed a file other
        # than a page (then the tabs reload rather than swap in their page's new body).
        self._assets_changed = True
        # Whether the last build made the site's shape afresh (see prepare).
        self._planned = False
        # Set while prepare has run since the last build: the next rebuild needs nothing more.
        self.prepared = threading.Event()

    @property
    def site_dir(self) -> Path:
        """The folder the preview builds into and serves from."""
        return self.app.site_dir

    def start(self) -> None:
        """Build once, then serve, watch and rebuild in background threads (the rebuild
        thread first prepares the next rebuild, while the first page is being served)."""
        self.rebuild()
        reports_close = type(self._observer).__name__.startswith("Inotify")
        changes = _Changes(self._rebuilder.changed, self.config_file, reports_close=reports_close)
        for folder in self._watched:
            self._observer.schedule(changes, str(folder), recursive=True)
        self._observer.schedule(changes, str(self.config_file.parent), recursive=False)
        logging.getLogger(_LostEvents.LOGGER).addHandler(self._lost_events)
        self._observer.start()
        self._server_thread.start()
        self._rebuilder.start()

    def rebuild(self, changed: set[str] | None = None) -> bool:
        """Build the site (re-reading the config); on success reload the tabs, else show why.

        ``changed``: the paths changed since the last build (None: look at everything).
        """
        self.prepared.clear()
        if not only_pages(changed, self._content_dir, self.context.content_files or ()):
            self._assets_changed = True
        try:
            config = load_config(self.config_file)
            report = build_site(
                config,
                self.site_dir,
                drafts=self.drafts,
                preview=True,  # future-dated pages too, marked
                checkout_endpoint=config.checkout.endpoint_path,
                context=self.context,
                changed=changed,
                published=lambda: self._published(config),
            )
        except SiteError as exc:
            self._failed(str(exc), exc.location)
            return False
        except Exception as exc:  # a bug in launchkit must not end the preview
            if self.verbose:
                traceback.print_exc()
            self._failed(f"internal error: {exc!r} (run with --verbose for details)", "")
            return False
        print(
            f"Built {report.pages} pages, {report.files} files in {report.seconds:.2f} s",
            flush=True,  # a terminal, or a log being followed: either way, now
        )
        self._planned = report.planned
        return True

    def prepare(self) -> None:
        """Make what the next rebuild would otherwise make first, while nobody edits (the
        rebuild thread, after each build): the first save after starting the preview, or
        after a template edit, is then as quick as the next ones.

        That is the context's warm-up (:meth:`BuildContext.warm_up`) and, after a build that
        made the site's shape afresh, a full garbage collection. The build left tens of
        thousands of lasting objects that Python's collector has not yet counted as old:
        its next full collection, which walks every one of them, would otherwise come at an
        allocation of the next rebuild (0.1-0.7 s of a first edit). Collected now, they are
        old, and the collector waits for a quarter as many new ones before walking again.
        """
        try:
            self.context.warm_up()
            if self._planned:
                gc.collect()
                self._planned = False
        except Exception:  # a bug in launchkit must not end the preview: the rebuild reports
            if self.verbose:
                traceback.print_exc()
        finally:
            self.prepared.set()

    def _published(self, config: SiteConfig) -> None:
        """The new pages are in place: reload the tabs (while the build writes its cache)."""
        # Pages and checkout change together: the forms post to the endpoint of this config.
        checkout = self.mode.app(with_origins(config, self.origins))
        self.app.mount_checkout(config.checkout.endpoint_path, checkout)
        self.app.hub.reload(assets_changed=self._assets_changed)
        self._assets_changed = False

    def _failed(self, text: str, location: str) -> None:
        print(text, file=sys.stderr, flush=True)
        self.app.hub.error(text, location)

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here)."""
        while self._server_thread.is_alive():
            self._server_thread.join(timeout=0.5)

    def stop(self) -> None:
        """Stop watching, end the event streams, close every connection, join the threads,
        end the build's worker processes."""
        logging.getLogger(_LostEvents.LOGGER).removeHandler(self._lost_events)
        self._observer.stop()
        self._observer.join()
        self._rebuilder.stop()
        self.context.close()  # no build runs now: the rebuild thread has ended
        self.app.hub.close()
        self._server.task_dispatcher.shutdown(timeout=2)
        # Closing the sockets is the server loop's own business: ask it, then let it end.
        # EBADF: the loop has closed every socket already, the trigger among them (seen in
        # the browser tests' teardown); there is nothing left to ask it.
        with contextlib.suppress(OSError):
            self._server.trigger.pull_trigger(
                lambda: waitress.wasyncore.close_all(self._server._map)
            )
        self._server_thread.join(timeout=5)


def start_preview(
    config_file: str | Path,
    *,
    port: int = 8000,
    drafts: bool = False,
    environ: Mapping[str, str] | None = None,
    verbose: bool = False,
) -> Preview:
    """Build the site of ``config_file`` and serve it on ``127.0.0.1:port`` (0: any port).

    ``environ`` holds ``STRIPE_SECRET_KEY`` / ``STRIPE_API_BASE`` (default: the process
    environment over ``.env`` beside the config). Raises :class:`SiteError` for a bad config,
    a live Stripe key or a port in use; a build error does not stop the preview.
    """
    config_file = Path(config_file).resolve()
    config = load_config(config_file)
    mode = checkout_mode(environ_over_dotenv(config.root) if environ is None else environ, config)
    app = PreviewApp(config.root / ".cache" / "preview", ReloadHub())
    try:
        server = waitress.server.create_server(
            app, host=HOST, port=port, threads=THREADS, ident="launchkit-preview"
        )
    except OSError as exc:
        raise SiteError(
            f"cannot serve on {HOST}:{port}: {exc.strerror}", hint="pick another port with --port"
        ) from None
    preview = Preview(config_file, config, mode, server, app, drafts=drafts, verbose=verbose)
    preview.start()
    return preview


__all__ = [
    "CheckoutMode",
    "Preview",
    "PreviewApp",
    "ReloadHub",
    "Served",
    "checkout_mode",
    "find_file",
    "inject_script",
    "only_pages",
    "start_preview",
    "with_origins",
]
