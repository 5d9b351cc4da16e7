"""How ``checkout_server.py`` serves the app: gunicorn's gevent workers, with deadlines.

A checkout spends ~all its time waiting: on the buyer's request, then on Stripe. In a
gevent worker each connection is a greenlet on one event loop, so a waiting buyer, a slow or
idle client and a checkout held up by a slow Stripe each cost a socket and a few KiB, never
a thread from a fixed pool (measured against gthread and waitress: docs/checkout.md,
"Serving model"). What bounds them instead:

* :data:`HEADER_TIMEOUT`: gunicorn's gevent worker reads a request's line and headers under a
  ``gevent.Timeout`` of its ``keepalive`` setting, which is also how long a kept-alive
  connection may idle before its next request begins (:class:`CheckoutWorker` waits for
  that); past either the socket is closed without an answer, as nginx does.
* :data:`BODY_TIMEOUT`: :class:`CheckoutWorker` reads the body completely, with
  :func:`launchkit.checkout.app.read_body` and under its own deadline, before the app runs;
  the app gets the bytes, or the reason it could not have them (408, 400, 413).
* :data:`GRACEFUL_TIMEOUT`: on SIGTERM a worker stops accepting, closes its idle kept-alive
  connections and finishes what it started; a request that just arrived needs at most the
  body deadline plus the checkout's Stripe deadline, so the grace period exceeds both and no
  buyer is dropped unanswered.
* ``worker_connections``: sockets per worker process (gunicorn's default, 1000).

The app itself stays a plain WSGI callable (``checkout_server:app``) that any server can run;
this module is what makes gunicorn hold up against slow clients. gevent's cooperative
sockets must be in place before ``ssl``, urllib3 or stripe are imported:
``checkout_server.py`` and ``launchkit.checkout.gunicorn_conf`` patch first thing.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import resource
import signal
import socket
import ssl
from typing import Any

import gevent
import gevent.select
import gunicorn.app.base
from gevent.monkey import get_original
from gunicorn.glogging import Logger
from gunicorn.workers.ggevent import GeventWorker

from .app import BadRequest, WSGIApp, read_body
from .logs import logging_config
from .stripe_api import CHECKOUT_DEADLINE

HEADER_TIMEOUT = 10
BODY_TIMEOUT = 10.0
GRACEFUL_TIMEOUT = math.ceil(BODY_TIMEOUT + CHECKOUT_DEADLINE) + 5
WORKER_CONNECTIONS = 1000

_select_now = get_original("select", "select")  # the system call, which never yields


def gunicorn_settings(log_format: str = "text") -> dict[str, Any]:
    """gunicorn's settings for the checkout, bind address and workers aside."""
    return {
        "worker_class": f"{__name__}.{CheckoutWorker.__name__}",
        "logger_class": f"{__name__}.{QuietAccessLogger.__name__}",
        "worker_connections": WORKER_CONNECTIONS,
        # Each worker listens on its own socket and the kernel spreads new connections over
        # them: on one shared socket the worker that is running takes them all, and a proxy's
        # kept-alive connections (nginx's upstream keepalive, the benchmark's buyers) then
        # stay on one worker, one core, while the others idle (measured: 64 to 0).
        "reuse_port": True,
        "on_starting": refuse_taken_addresses,
        "post_fork": stop_signals_end_a_booting_worker,
        "keepalive": HEADER_TIMEOUT,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        # gunicorn's heartbeat file; /dev/shm is writable even in a read-only container.
        "worker_tmp_dir": "/dev/shm" if os.access("/dev/shm", os.W_OK) else None,  # noqa: S108
        "proc_name": "launchkit-checkout",
        "control_socket_disable": True,  # no runtime management socket in $HOME
        "logconfig_dict": logging_config(log_format),
    }


def refuse_taken_addresses(server: Any) -> None:
    """gunicorn's ``on_starting`` hook, before anything listens: exit (2) when something
    already listens on an address.

    With ``reuse_port`` a second server on the same port would bind beside the first and
    silently take half its connections; a probe bound without ``SO_REUSEPORT`` fails on a
    port that anything listens on, as gunicorn's own bind did on its shared socket. Port 0
    (any free port) keeps one shared socket: each worker would get a port of its own.
    """
    for address in server.cfg.address:
        if not isinstance(address, tuple):  # a Unix socket path or an inherited descriptor
            continue
        host, port = address
        if port == 0:
            server.cfg.set("reuse_port", False)
            continue
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
            try:
                probe.bind((host, port))
            except OSError as exc:
                server.log.error("cannot listen on %s:%s: %s", host, port, exc.strerror)
                raise SystemExit(2) from None


def stop_signals_end_a_booting_worker(server: Any, worker: Any) -> None:
    """gunicorn's ``post_fork`` hook: until the worker sets its own signal handlers, a stop
    signal ends it at once.

    A worker forked just before a shutdown inherits the master's handlers, which only queue
    the signal in the master's (now copied) state: the worker would ignore the master's
    SIGQUIT or SIGTERM, boot and serve until the master kills it when its grace period is
    over, 30 s later. A booting worker has no request to finish.
    """
    for stop in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(stop, _exit_now)


def _exit_now(signum: int, frame: Any) -> None:
    os._exit(0)


class CheckoutWorker(GeventWorker):
    """gunicorn's gevent worker that reads each request's body before the app runs, and
    closes its idle kept-alive connections at once when it is told to stop.

    On SIGTERM gunicorn's gevent worker waits while any connection is open, an idle
    kept-alive one included, so a browser's connection kept after a checkout held the stop
    for the whole keep-alive wait (``HEADER_TIMEOUT``). As nginx and gunicorn's own sync and
    gthread workers do, a connection with no byte of a next request is closed instead; one
    with a request under way, even half received, is still served (and then closed).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The sockets of kept-alive connections waiting for the first byte of a request.
        self.idle_connections: set[socket.socket] = set()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = BufferedBody(self.wsgi, BODY_TIMEOUT)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> None:
        super().handle_request(listener_name, req, sock, addr)
        # gunicorn's next read would both wait for the next request and take its first bytes,
        # after which a stop could not tell an idle connection from a half-received request:
        # wait for those bytes here instead. Bytes already read with the last request
        # (pipelined) are a request begun.
        if req.unreader.buf.getvalue() or (isinstance(sock, ssl.SSLSocket) and sock.pending()):
            return
        if not self.alive:  # answered after the stop began (without Connection: close)
            raise StopIteration("the worker is stopping")
        self.idle_connections.add(sock)
        try:
            readable, _, _ = gevent.select.select([sock], [], [], self.cfg.keepalive)
        finally:
            self.idle_connections.discard(sock)
        if not readable:  # what gunicorn's keepalive wait would have done
            raise StopIteration("keep-alive wait over")

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        # Out of the signal handler, as gunicorn's gevent worker does for SIGQUIT.
        gevent.spawn(self.close_idle_connections)

    def close_idle_connections(self) -> None:
        """Shut down the idle connections: each one's wait ends, its reader finds the end of
        the stream, and gunicorn closes it as a client's departure. A connection whose next
        request has arrived meanwhile is left to be served: nothing in this loop yields to
        another greenlet (gevent's select would), so no request can begin on a connection
        between its check and its shutdown."""
        for sock in list(self.idle_connections):
            readable, _, _ = _select_now([sock], [], [], 0)
            if not readable:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class QuietAccessLogger(Logger):
    """gunicorn's logger, minus its access line when ``gunicorn.access`` would drop it.

    The app writes its own access line (:mod:`launchkit.checkout.logs`), so the logging
    config sets ``gunicorn.access`` to WARNING; gunicorn still built every request's log
    atoms before the logger dropped them, about 0.1 ms of CPU per request.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)  # applies the logging config, which sets the access level
        self._access_log_enabled = self._access_log_enabled and self.access_log.isEnabledFor(
            logging.INFO
        )


class BufferedBody:
    """WSGI middleware: the body is read completely within ``seconds``, then the app runs.

    The app gets the body as an in-memory stream with its true length, or a stream that
    raises the :class:`~launchkit.checkout.app.BadRequest` that reading met, so that the app
    answers every request, and with its own page.
    """

    def __init__(self, app: WSGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Any):
        timeout = gevent.Timeout(self.seconds)
        timeout.start()
        try:
            body = read_body(environ)
        except gevent.Timeout as exc:
            if exc is not timeout:
                raise
            stream: Any = _Failing(BadRequest(408, "The order took too long to arrive."))
        except BadRequest as exc:
            stream = _Failing(exc)
        else:
            stream = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        finally:
            timeout.close()
        environ["wsgi.input"] = stream
        return self.app(environ, start_response)


class _Failing:
    """A request body that could not be had: reading it raises why."""

    def __init__(self, error: BadRequest) -> None:
        self.error = error

    def read(self, size: int = -1) -> bytes:
        raise self.error


class GunicornServer(gunicorn.app.base.BaseApplication):
    """gunicorn serving an app built (and checked) before any worker is forked."""

    def __init__(self, app: WSGIApp, settings: dict[str, Any]) -> None:
        self.application = app
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.settings.items():
            self.cfg.set(name, value)

    def load(self) -> WSGIApp:
        return self.application


def raise_open_files_limit() -> None:
    """Let each worker hold its ``worker_connections`` sockets plus its connections to Stripe:
    the soft limit on open files (often 1024) is raised to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * WORKER_CONNECTIONS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
