"""Who may ask for a checkout, and how often: per-client limits and the Stripe ceiling.

Set by the environment (see docs/checkout.md):

``CHECKOUT_RATE_LIMIT``      per client address, in the ``limits`` library's notation, several
                             separated by ``;`` (default :data:`DEFAULT_RATE_LIMIT`; ``off``)
``CHECKOUT_MAX_STRIPE_RPS``  session creations per second for the whole instance (default
                             :data:`DEFAULT_MAX_STRIPE_RPS`; ``off``)
``RATE_LIMIT_STORAGE_URL``   a ``limits`` storage shared by several instances, e.g.
                             ``redis://host:6379``; the per-client limits are then counted there
``FORWARDED_ALLOW_IPS``      the proxies whose ``X-Forwarded-For`` names the client (gunicorn's
                             setting and default: ``127.0.0.1,::1``; ``*`` trusts every peer)

Counts must hold for the instance as a whole, whatever its number of worker processes, with
no service to run: :class:`SQLiteStorage` keeps them in one SQLite file in shared memory
(``/dev/shm``) that the processes forked from the one that made the :class:`Guard` share.
SQLite's file locks serialise the few microseconds each count takes and are released by the
kernel if a process dies holding one. The ``moving window`` strategy counts exactly (no
double burst at a window boundary), which matters for a ceiling meant to stay under Stripe's.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import limits
import limits.storage
import limits.strategies

from ..errors import SiteError

log = logging.getLogger("launchkit.checkout")

# A buyer presses "buy" a few times; a shop behind one office or mobile-carrier address sees a
# few buyers at once. A script creating sessions goes far past this.
DEFAULT_RATE_LIMIT = "20/minute;100/hour"
# Stripe's documented default allows 25 requests/second per API endpoint (and 25/s for all of a
# sandbox, 100/s for all of live mode): 20 session creations/s leaves room for the retries of
# failed attempts and for the account's other API calls.
DEFAULT_MAX_STRIPE_RPS = 20
DEFAULT_TRUSTED_PROXIES = "127.0.0.1,::1"  # gunicorn's default for FORWARDED_ALLOW_IPS
OFF = "off"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class LimitSettings:
    """The limits the environment asks for; empty tuples / None mean off."""

    per_client: tuple[limits.RateLimitItem, ...]
    stripe_per_second: int | None
    storage_url: str | None
    trusted_proxies: tuple[Network, ...] | None  # None: trust every peer ("*")

    @classmethod
    def off(cls) -> LimitSettings:
        """No limit at all (the preview, tests of other things)."""
        return cls((), None, None, ())


def limit_settings(environ: Mapping[str, str]) -> LimitSettings:
    """Read the four variables; :class:`SiteError` with a one-line reason if one is unusable."""
    rate = environ.get("CHECKOUT_RATE_LIMIT", "").strip() or DEFAULT_RATE_LIMIT
    try:
        per_client = () if rate.lower() == OFF else tuple(limits.parse_many(rate))
    except ValueError:
        raise SiteError(
            f"CHECKOUT_RATE_LIMIT {rate!r} is not a rate limit: write e.g. '20/minute', "
            "several separated by ';', or 'off'"
        ) from None
    ceiling = environ.get("CHECKOUT_MAX_STRIPE_RPS", "").strip() or str(DEFAULT_MAX_STRIPE_RPS)
    if ceiling.lower() == OFF:
        stripe_per_second = None
    elif ceiling.isdigit() and int(ceiling) > 0:
        stripe_per_second = int(ceiling)
    else:
        raise SiteError(
            f"CHECKOUT_MAX_STRIPE_RPS must be a whole number of sessions per second or 'off', "
            f"got {ceiling!r}"
        )
    storage_url = environ.get("RATE_LIMIT_STORAGE_URL", "").strip() or None
    if storage_url:
        try:
            limits.storage.storage_from_string(storage_url)
        except Exception as exc:  # limits raises ConfigurationError, ValueError, ImportError...
            raise SiteError(f"RATE_LIMIT_STORAGE_URL is not usable: {exc}") from None
    trusted = environ.get("FORWARDED_ALLOW_IPS", "").strip() or DEFAULT_TRUSTED_PROXIES
    return LimitSettings(per_client, stripe_per_second, storage_url, _networks(trusted))


def _networks(text: str) -> tuple[Network, ...] | None:
    if text == "*":
        return None
    try:
        return tuple(ipaddress.ip_network(part.strip()) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise SiteError(f"FORWARDED_ALLOW_IPS: {exc}") from None


class SQLiteStorage(limits.storage.Storage, limits.storage.MovingWindowSupport):
    """A ``limits`` storage in one SQLite file, shared by every process that opens it.

    The file, its journal mode and its table are made by the constructor, in the process that
    makes the storage: when two freshly forked workers did it on their first hit at the same
    instant, one of them could get "database is locked" at once (the switch to WAL does not
    wait for the busy timeout), and since a failing storage lets the request through, the
    first burst after a start went past the ceiling (in 14 of 200 starts). Each process then
    opens its own connection on first use (a connection must not cross a fork); within a
    process a lock keeps threads apart. Only what the moving window needs is kept: one row per
    counted hit, deleted once it is older than the longest window.
    """

    STORAGE_SCHEME = None  # made by Guard, not from a URL

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._create()

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _create(self) -> None:
        with closing(sqlite3.connect(self.path, isolation_level=None)) as connection:
            # On tmpfs durability is moot; WAL lets readers and the one writer overlap.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, at REAL NOT NULL, "
                "expires REAL NOT NULL)"
            )
            connection.execute("CREATE INDEX IF NOT EXISTS hits_key_at ON hits (key, at)")
            connection.execute("CREATE INDEX IF NOT EXISTS hits_expires ON hits (expires)")

    def _db(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():
            connection = sqlite3.connect(
                self.path, timeout=0.5, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA synchronous=OFF")
            self._connection, self._pid = connection, os.getpid()
        return self._connection

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                (count,) = db.execute(
                    "SELECT count(*) FROM hits WHERE key = ? AND at > ?", (key, now - expiry)
                ).fetchone()
                allowed = count + amount <= limit
                if allowed:
                    db.executemany(
                        "INSERT INTO hits VALUES (?, ?, ?)", [(key, now, now + expiry)] * amount
                    )
                # Old hits go with the writes that make new ones: no timer, no separate sweep.
                db.execute("DELETE FROM hits WHERE expires < ?", (now,))
            finally:
                db.execute("COMMIT")
        return allowed

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        with self._lock:
            oldest, count = (
                self._db()
                .execute(
                    "SELECT min(at), count(*) FROM hits WHERE key = ? AND at > ?",
                    (key, now - expiry),
                )
                .fetchone()
            )
        return (oldest or now), count

    # The fixed-window interface every ``limits`` storage has; the Guard does not use it.
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("SQLiteStorage keeps moving windows only")

    def get(self, key: str) -> int:
        raise NotImplementedError("SQLiteStorage keeps moving windows only")

    def get_expiry(self, key: str) -> float:
        raise NotImplementedError("SQLiteStorage keeps moving windows only")

    def check(self) -> bool:
        with self._lock:
            self._db().execute("SELECT 1")
        return True

    def reset(self) -> int | None:
        with self._lock:
            return self._db().execute("DELETE FROM hits").rowcount

    def clear(self, key: str) -> None:
        with self._lock:
            self._db().execute("DELETE FROM hits WHERE key = ?", (key,))


@dataclass(frozen=True)
class Verdict:
    """Whether a request may go on; if not, which status and in how many seconds to retry."""

    allowed: bool
    status: int = 200
    retry_after: int = 0

    @property
    def refused(self) -> bool:
        return not self.allowed


ALLOWED = Verdict(True)


class Guard:
    """The checkout's limits for one instance: make it once, before any worker is forked.

    The per-client limits count in ``RATE_LIMIT_STORAGE_URL``'s storage when set, else in
    this instance's own :class:`SQLiteStorage`; the ceiling always counts per instance.
    :meth:`close` removes the instance's file (only in the process that made it).
    """

    def __init__(self, settings: LimitSettings) -> None:
        self.settings = settings
        self._owner = os.getpid()
        self._folder = Path(tempfile.mkdtemp(prefix="launchkit-limits-", dir=_shared_memory()))
        local = limits.strategies.MovingWindowRateLimiter(
            SQLiteStorage(self._folder / "limits.sqlite")
        )
        shared = (
            limits.strategies.MovingWindowRateLimiter(
                limits.storage.storage_from_string(settings.storage_url)
            )
            if settings.storage_url
            else local
        )
        self._per_client, self._local = shared, local
        self._ceiling = (
            limits.RateLimitItemPerSecond(settings.stripe_per_second)
            if settings.stripe_per_second
            else None
        )

    def client(self, address: str) -> Verdict:
        """Count one checkout for ``address``; 429 once any of its limits is spent."""
        key = _client_key(address)
        for item in self.settings.per_client:
            if not self._hit(self._per_client, item, "client", key):
                return Verdict(False, 429, self._retry_after(self._per_client, item, key))
        return ALLOWED

    def stripe(self) -> Verdict:
        """Count one session creation for the instance; 503 when the ceiling is reached."""
        if self._ceiling is None or self._hit(self._local, self._ceiling, "stripe", "instance"):
            return ALLOWED
        return Verdict(False, 503, 1)

    def _hit(self, limiter, item: limits.RateLimitItem, *key: str) -> bool:
        """Count a hit; a storage that fails lets the checkout through (a sale is worth more)."""
        try:
            return limiter.hit(item, *key)
        except Exception as exc:  # Redis down, a locked file: never a lost sale
            log.warning("rate limit storage failed, request allowed: %s", exc)
            return True

    def _retry_after(self, limiter, item: limits.RateLimitItem, key: str) -> int:
        try:
            reset = limiter.get_window_stats(item, "client", key).reset_time
        except Exception:
            return item.get_expiry()
        return max(1, math.ceil(reset - time.time()))

    def client_address(self, environ: Mapping[str, str]) -> str:
        """The buyer's address: ``X-Forwarded-For``'s nearest untrusted hop when the peer
        is a trusted proxy, else the peer itself."""
        peer = environ.get("REMOTE_ADDR", "")
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if not forwarded or not self._trusted(peer):  # the header first: it is cheaper
            return peer
        hops = [hop.strip() for hop in forwarded.split(",")]
        hops = [hop for hop in hops if _is_address(hop)]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else peer

    def _trusted(self, address: str) -> bool:
        proxies = self.settings.trusted_proxies
        if proxies is None:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False  # a Unix socket or no address: nothing to trust it as
        return any(ip in network for network in proxies)

    def close(self) -> None:
        if os.getpid() != self._owner:
            return
        for path in self._folder.glob("*"):
            path.unlink(missing_ok=True)
        self._folder.rmdir()


def _client_key(address: str) -> str:
    """One key per client: an IPv4 address, or an IPv6 /64 (what one subscriber gets)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _shared_memory() -> str | None:
    """``/dev/shm`` when writable (a tmpfs; also in a read-only container), else the temp dir."""
    shm = "/dev/shm"  # noqa: S108 (a private folder is made inside it with mkdtemp)
    return shm if os.access(shm, os.W_OK) else None
