"""The checkout server: buy form POST -> Rewardful-attributed Stripe Checkout Session -> 303.

    python checkout_server.py [--host H] [--port P] [--config site.toml] [--workers N] [--dry-run]
    gunicorn --worker-class gthread --threads 64 checkout_server:app    (or any WSGI server)

Configuration: ``site.toml`` (or ``--config`` / ``SITE_CONFIG``) for the catalogue and URLs;
``STRIPE_SECRET_KEY`` (and optionally ``STRIPE_API_BASE``) from the environment or a ``.env``
file beside the config; ``HOST`` / ``PORT`` for the address. The work is done in
:mod:`launchkit.checkout`; this file only wires them up.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import bottle
import gunicorn.app.base

from launchkit.checkout.app import create_app
from launchkit.checkout.stripe_api import environ_over_dotenv, make_stripe_client, stripe_settings
from launchkit.config import DEFAULT_CONFIG, SiteConfig, load_config
from launchkit.errors import SiteError

# Every buyer's request holds a thread while Stripe answers (~100 ms-1 s, up to 20 s when
# Stripe is slow), so threads bound how many buyers are served at once: workers x THREADS
# (64 on two cores). The CPU work of a checkout (stripe-python, HTTP parsing) holds Python's
# GIL, so one worker process per core uses the machine; more threads per worker only add GIL
# contention (measured: 2 x 32 threads took ~15 % less CPU per checkout than 2 x 64).
THREADS = 32
WORKERS = os.cpu_count() or 1
# A stopping worker finishes the checkouts it started: the longest one takes 20 s
# (launchkit.checkout.stripe_api.STRIPE_TIMEOUT and retries).
GRACEFUL_TIMEOUT = 25


def build_app(config: SiteConfig, *, dry_run: bool = False) -> bottle.Bottle:
    """Read the Stripe settings and build the app; :class:`SiteError` if they are unusable.

    ``.env`` beside the config fills in what the environment does not set.
    """
    if dry_run:
        return create_app(config, dry_run=True)
    settings = stripe_settings(environ_over_dotenv(config.root), config)
    return create_app(
        config,
        stripe_client=make_stripe_client(settings),
        stripe_api_base=settings.api_base,
    )


def __getattr__(name: str) -> bottle.Bottle:
    """``checkout_server.app``, built on first use (``gunicorn checkout_server:app``).

    Built lazily so that ``python checkout_server.py --config other.toml`` or ``--dry-run``
    never builds it from the default config first.
    """
    if name != "app":
        raise AttributeError(name)
    _configure_logging()
    try:
        app = build_app(load_config(os.environ.get("SITE_CONFIG", DEFAULT_CONFIG)))
    except SiteError as exc:
        print(f"checkout_server: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    globals()["app"] = app
    return app


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # stripe-python logs two INFO lines per request; the app logs the one line that matters.
    logging.getLogger("stripe").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=os.environ.get("PORT", "8000"))
    parser.add_argument("--config", default=os.environ.get("SITE_CONFIG", DEFAULT_CONFIG))
    parser.add_argument(
        "--workers",
        type=_positive,
        default=os.environ.get("WEB_CONCURRENCY", WORKERS),
        help=f"server processes, {THREADS} threads each (default: WEB_CONCURRENCY or the "
        f"number of CPUs, {WORKERS})",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="show the parameters that would go to Stripe instead of calling it (no key needed)",
    )
    args = parser.parse_args(argv)
    _configure_logging()
    try:
        config = load_config(args.config)
        app = build_app(config, dry_run=args.dry_run)
    except SiteError as exc:
        print(f"checkout_server: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("launchkit.checkout").info(
        "checkout server%s: POST http://%s:%s%s",
        " (dry run, Stripe is not called)" if args.dry_run else "",
        args.host,
        args.port,
        config.checkout.endpoint_path,
    )
    _GunicornServer(app, bind=f"{args.host}:{args.port}", workers=args.workers).run()
    return 0


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return number


class _GunicornServer(gunicorn.app.base.BaseApplication):
    """gunicorn's gthread workers serving the app built (and checked) before any fork.

    The app is built in the master, so a configuration the server refuses stops it before a
    worker starts; the workers inherit it (the Stripe client opens its connections in each
    worker, on first use).
    """

    def __init__(self, app: bottle.Bottle, *, bind: str, workers: int) -> None:
        self.application = app
        self.options = {
            "bind": bind,
            "workers": workers,
            "worker_class": "gthread",
            "threads": THREADS,
            "graceful_timeout": GRACEFUL_TIMEOUT,
            "proc_name": "launchkit-checkout",
            "control_socket_disable": True,  # no runtime management socket in $HOME
        }
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> bottle.Bottle:
        return self.application


if __name__ == "__main__":
    sys.exit(main())
