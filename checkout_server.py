"""The checkout server: buy form POST -> Rewardful-attributed Stripe Checkout Session -> 303.

    python checkout_server.py [--host H] [--port P] [--config site.toml] [--workers N]
    python checkout_server.py --check        # the catalogue's prices against Stripe, then exit
    python checkout_server.py --dry-run      # parameters instead of Stripe, on loopback only
    gunicorn --config python:launchkit.checkout.gunicorn_conf checkout_server:app

Configuration: ``site.toml`` (or ``--config`` / ``SITE_CONFIG``) for the catalogue and URLs;
from the environment or a ``.env`` file beside the config: ``STRIPE_SECRET_KEY`` (and
optionally ``STRIPE_API_BASE``), the rate limits (``CHECKOUT_RATE_LIMIT``,
``CHECKOUT_MAX_STRIPE_RPS``, ``RATE_LIMIT_STORAGE_URL``, ``FORWARDED_ALLOW_IPS``),
``LOG_FORMAT``; ``HOST`` / ``PORT`` for the address. The work is done in
:mod:`launchkit.checkout`; this file only wires it up. ``app`` is a plain WSGI callable.
"""

from __future__ import annotations

if __name__ == "__main__":
    # The server's workers are gevent workers: its cooperative sockets must replace the
    # standard ones before anything (ssl, urllib3, stripe) imports them.
    from gevent import monkey

    monkey.patch_all()

import argparse
import atexit
import ipaddress
import logging
import logging.config
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import stripe

from launchkit.checkout.app import WSGIApp, create_app
from launchkit.checkout.limiting import Guard, limit_settings
from launchkit.checkout.logs import logging_config
from launchkit.checkout.stripe_api import (
    check_prices,
    environ_over_dotenv,
    make_stripe_client,
    stripe_settings,
)
from launchkit.config import DEFAULT_CONFIG, SiteConfig, load_config
from launchkit.errors import SiteError

log = logging.getLogger("launchkit.checkout")

# One worker process per core: a checkout's CPU work (stripe-python, HTTP parsing) holds
# Python's GIL, and each worker's event loop waits on any number of buyers at once.
WORKERS = os.cpu_count() or 1
# At start the catalogue check may take this long before the server gives up on Stripe.
STARTUP_CHECK_SECONDS = 10.0


def build_app(config: SiteConfig, config_file: Path, environ: Mapping[str, str]) -> WSGIApp:
    """Read the settings, check the catalogue against Stripe and build the app.

    :class:`SiteError` for settings that cannot work or a price Stripe will not sell; a
    Stripe that cannot be reached is a warning (the server starts: Stripe may be back first).
    """
    settings = stripe_settings(environ, config)
    limits = limit_settings(environ)
    _check_at_start(settings, config, config_file)
    guard = Guard(limits)
    atexit.register(guard.close)
    # stripe-python's opt-out (its README, "Telemetry"): it would send Stripe the latency of
    # the previous request with each one, at a JSON encoding and a header per checkout.
    stripe.enable_telemetry = False
    return create_app(
        config,
        stripe_client=make_stripe_client(settings),
        stripe_api_base=settings.api_base,
        guard=guard,
    )


def _check_at_start(settings, config: SiteConfig, config_file: Path) -> None:
    checks = check_prices(settings, config, config_file, seconds=STARTUP_CHECK_SECONDS)
    wrong = [check for check in checks if check.problem and check.definite]
    if wrong:
        first = wrong[0]
        more = f" (and {len(wrong) - 1} more: run --check)" if len(wrong) > 1 else ""
        raise SiteError(
            f"product {first.product.key!r}: {first.problem}{more}", config_file, first.line
        )
    for check in checks:
        if check.problem:
            log.warning(
                "%s:%s: product %r not checked: %s",
                config_file,
                check.line,
                check.product.key,
                check.problem,
            )


def dry_run_app(config: SiteConfig, host: str, environ: Mapping[str, str]) -> WSGIApp:
    """The dry-run app, refused where a buyer could reach it or a live key is at hand."""
    key = environ.get("STRIPE_SECRET_KEY", "").strip()
    if re.match(r"(sk|rk)_live_", key):
        raise SiteError(
            "--dry-run refuses to start with a live STRIPE_SECRET_KEY in the environment: "
            "a dry run serves no buyer, so unset the key (or use a test key)"
        )
    if not _loopback(host):
        raise SiteError(
            f"--dry-run only listens on a loopback address (127.0.0.1, ::1), not {host!r}: "
            "a dry run shows parameters instead of selling, so no buyer may reach it"
        )
    return create_app(config, dry_run=True)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def __getattr__(name: str) -> WSGIApp:
    """``checkout_server.app``, built on first use (``gunicorn checkout_server:app``).

    Built lazily so that ``python checkout_server.py --config other.toml`` or ``--dry-run``
    never builds it from the default config first.
    """
    if name != "app":
        raise AttributeError(name)
    environ = os.environ
    _configure_logging(environ)
    try:
        config_file = Path(environ.get("SITE_CONFIG", DEFAULT_CONFIG))
        config = load_config(config_file)
        app = build_app(config, config_file, environ_over_dotenv(config.root))
    except SiteError as exc:
        print(f"checkout_server: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    globals()["app"] = app
    return app


def _configure_logging(environ: Mapping[str, str]) -> str:
    log_format = environ.get("LOG_FORMAT", "text").strip().lower() or "text"
    try:
        logging.config.dictConfig(logging_config(log_format))
    except ValueError as exc:
        raise SiteError(str(exc)) from None
    # Neither format shows a record's thread or process: logging need not look them up for
    # every access line (a quarter of what making the record costs).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    return log_format


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=os.environ.get("PORT", "8000"))
    parser.add_argument("--config", default=os.environ.get("SITE_CONFIG", DEFAULT_CONFIG))
    parser.add_argument(
        "--workers",
        type=_positive,
        default=os.environ.get("WEB_CONCURRENCY", WORKERS),
        help=f"server processes (default: WEB_CONCURRENCY or the number of CPUs, {WORKERS})",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="check every price of the catalogue against Stripe, report, and exit",
    )
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="for trying the site locally: show the parameters that would go to Stripe "
        "instead of calling it (no key needed; loopback only, never with a live key)",
    )
    args = parser.parse_args(argv)
    try:
        log_format = _configure_logging(os.environ)
        config_file = Path(args.config)
        config = load_config(config_file)
        environ = environ_over_dotenv(config.root)
        if args.check:
            return check(config, config_file, environ)
        if args.dry_run:
            app = dry_run_app(config, args.host, environ)
        else:
            app = build_app(config, config_file, environ)
    except SiteError as exc:
        print(f"checkout_server: {exc}", file=sys.stderr)
        return 2
    log.info(
        "checkout server%s: POST http://%s:%s%s",
        " (dry run, Stripe is not called, /healthz answers 503)" if args.dry_run else "",
        args.host,
        args.port,
        config.checkout.endpoint_path,
    )
    from launchkit.checkout.serving import GunicornServer, gunicorn_settings, raise_open_files_limit

    raise_open_files_limit()
    settings = gunicorn_settings(log_format) | {
        "bind": f"{args.host}:{args.port}",
        "workers": args.workers,
    }
    GunicornServer(app, settings).run()
    return 0


def check(config: SiteConfig, config_file: Path, environ: Mapping[str, str]) -> int:
    """``--check``: one line per product; 0 when Stripe will sell every price, else 1."""
    checks = check_prices(stripe_settings(environ, config), config, config_file)
    for entry in checks:
        where = f"{config_file}:{entry.line}" if entry.line else str(config_file)
        verdict = entry.problem or (
            f"ok: {entry.product.price_id} is active and fits mode {entry.product.mode!r}"
        )
        print(f"{where}: product {entry.product.key!r}: {verdict}")
    return 1 if any(entry.problem for entry in checks) else 0


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return number


if __name__ == "__main__":
    sys.exit(main())
