"""The build cache on disk: one SQLite file, ``.cache/build/cache.sqlite3`` beside ``site.toml``.

SQLite, not one pickle per kind, because a build reads only the entries it needs: a rebuild
of one page reads one rendered body, not the 140 MB of them a 20000-page site has, and a
worker process reads the bodies it renders from the file itself. Its tables:

``pages``      what each Markdown file gave when last read, for the code and config that
               read it (its scope): apart, the page (its front matter, place and title,
               pickled) and the rest (its size and mtime, the keys of its body and of
               all of it, its warnings: plain values, read by every build), so that a
               build taking the kept plan, which holds the pages, never unpickles them
``bodies``     rendered Markdown by key (HTML, table of contents, shortcodes)
``records``    per output folder, what the last build into it left (see
               :class:`launchkit.site.cache.Record`): the values of what its outputs
               needed, one blob (the files it published are a ``meta`` row, written
               again only when they change)
``outputs``    per output folder and page document, what it needed and its file, and
               apart its ids and its links (each read only for the pages whose links are
               checked again, or that they point to); a rebuild writes the rows of the
               documents it changed, no more
``plans``      per output folder, the site plan of the build whose record is in
               ``records`` (:mod:`launchkit.site.siteplan`)
``plan_heads`` and apart, what it is judged by (read first: the plan is loaded only when it
               may be taken), replaced by every build that takes the plan: a row of its
               own, as SQLite writes a whole row again (20 MB of plan at 20000 pages)

A cache that is missing, from another format or unreadable is an empty one: the build
renders everything and never fails because of it. The tables' layout is itself checked at
open (:func:`_layout`, against the ``CREATE`` statements below): a file whose tables or
indexes were made by other statements is started afresh, once, with no number for a
developer to bump. (Its writes would otherwise fail and roll back, and every build render
everything.)

Nothing here decides what may be reused: that is :mod:`launchkit.site.cache`.
"""

from __future__ import annotations

import contextlib
import marshal
import pickle
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

CACHE_FOLDER = Path(".cache") / "build"
FILE_NAME = "cache.sqlite3"
# Bump when what an entry's blob holds changes shape: an older file is then started afresh.
# A table's layout needs no bump: the file's tables are compared with _SCHEMA at open.
FORMAT = 9

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB)",
    "CREATE TABLE IF NOT EXISTS pages (path TEXT PRIMARY KEY, scope TEXT, head BLOB, page BLOB)",
    "CREATE TABLE IF NOT EXISTS bodies (key TEXT PRIMARY KEY, entry BLOB)",
    "CREATE TABLE IF NOT EXISTS records (folder TEXT PRIMARY KEY, entry BLOB)",
    "CREATE TABLE IF NOT EXISTS outputs (folder TEXT, output TEXT, entry BLOB, ids BLOB,"
    " links BLOB, PRIMARY KEY (folder, output))",
    "CREATE TABLE IF NOT EXISTS plans (folder TEXT PRIMARY KEY, plan BLOB)",
    "CREATE TABLE IF NOT EXISTS plan_heads (folder TEXT PRIMARY KEY, head BLOB)",
)


class Store:
    """An open cache file. ``readonly`` for worker processes; ``None`` path: no file at all."""

    def __init__(self, path: Path | None, *, readonly: bool = False) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        if path is None:
            return
        try:
            self._db = self._open(path, readonly)
        except sqlite3.DatabaseError:
            if readonly:
                return
            # Not a database (a torn or foreign file): start a new one in its place.
            for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
                path.with_name(name).unlink(missing_ok=True)
            with contextlib.suppress(sqlite3.Error, OSError):
                self._db = self._open(path, readonly)
        except OSError:
            self._db = None  # an unwritable folder: build without a cache

    @staticmethod
    def _open(path: Path, readonly: bool) -> sqlite3.Connection:
        if readonly:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            db.execute("PRAGMA query_only = ON")
            return db
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        # A cache: losing the last writes to a power cut only costs a rebuild of them.
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = OFF")
        if not _current(db):
            _start_afresh(db)
        return db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- reading --------------------------------------------------------------------------

    def page_heads(self, scope: str) -> dict[str, Any]:
        """What each page of ``scope`` gave besides its page (plain values), by file path."""
        query = "SELECT path, head FROM pages WHERE scope = ?"
        return dict(self._rows(query, marshal.loads, (scope,)))

    def page_objects(self, scope: str, paths: Iterable[str]) -> dict[str, Any]:
        """The pages of ``paths`` (of ``scope``; unpickled), by file path."""
        wanted = set(paths)
        if len(wanted) > 50:  # most of them: one pass, the others left as bytes
            rows = self._rows("SELECT path, page FROM pages WHERE scope = ?", _same, (scope,))
            found = [(path, data) for path, data in rows if path in wanted]
        else:
            query = "SELECT path, page FROM pages WHERE scope = ? AND path = ?"
            found = [row for path in wanted for row in self._rows(query, _same, (scope, path))]
        return dict(self._decoded(found, pickle.loads))

    def body(self, key: str) -> Any:
        """One rendered body, or None."""
        rows = self._rows("SELECT key, entry FROM bodies WHERE key = ?", marshal.loads, (key,))
        return next((entry for _, entry in rows), None)

    def meta(self, name: str) -> Any:
        """A small named entry, or None."""
        rows = self._rows("SELECT name, value FROM meta WHERE name = ?", pickle.loads, (name,))
        return next((entry for _, entry in rows), None)

    def body_keys(self) -> set[str]:
        """The key of every rendered body."""
        return {key for key, _ in self._rows("SELECT key, NULL FROM bodies", None)}

    def record(self, folder: str) -> Any:
        rows = self._rows(
            "SELECT folder, entry FROM records WHERE folder = ?", pickle.loads, (folder,)
        )
        return next((entry for _, entry in rows), None)

    def outputs(self, folder: str) -> dict[str, Any]:
        """Every output's entry of a folder (without its ids), by output path."""
        query = "SELECT output, entry FROM outputs WHERE folder = ?"
        return dict(self._rows(query, marshal.loads, (folder,)))

    def ids(self, folder: str, output: str) -> Any:
        """The ids of one output of a folder, or None."""
        query = "SELECT output, ids FROM outputs WHERE folder = ? AND output = ?"
        return next(
            (entry for _, entry in self._rows(query, marshal.loads, (folder, output))), None
        )

    def all_ids(self, folder: str) -> dict[str, Any]:
        """The ids of every output of a folder, by output path."""
        query = "SELECT output, ids FROM outputs WHERE folder = ? AND ids IS NOT NULL"
        return dict(self._rows(query, marshal.loads, (folder,)))

    def links_of_many(self, folder: str, outputs: Sequence[str]) -> dict[str, Any]:
        """The links of some outputs of a folder, by output path (one query)."""
        marks = ", ".join("?" * len(outputs))
        query = f"SELECT output, links FROM outputs WHERE folder = ? AND output IN ({marks})"  # noqa: S608 - placeholders
        return dict(self._rows(query, marshal.loads, (folder, *outputs)))

    def plan_head(self, folder: str) -> Any:
        """What the plan of ``folder`` is judged by (:class:`.siteplan.KeptPlan`), or None."""
        query = "SELECT folder, head FROM plan_heads WHERE folder = ?"
        return next((entry for _, entry in self._rows(query, pickle.loads, (folder,))), None)

    def plan(self, folder: str) -> bytes | None:
        """The site plan of ``folder`` as written (:func:`.siteplan.plan_bytes`), or None."""
        query = "SELECT folder, plan FROM plans WHERE folder = ?"
        return next((entry for _, entry in self._rows(query, bytes, (folder,))), None)

    def _rows(self, query: str, decode: Any, args: Iterable[Any] = ()) -> Iterator[tuple[str, Any]]:
        if self._db is None:
            return iter(())
        try:
            rows = self._db.execute(query, tuple(args)).fetchall()
        except sqlite3.Error:
            return iter(())
        return self._decoded(rows, decode)

    @staticmethod
    def _decoded(rows: Iterable[tuple[str, Any]], decode: Any) -> Iterator[tuple[str, Any]]:
        for name, entry in rows:
            if decode is None:
                yield name, None
                continue
            try:
                yield name, decode(entry)
            except Exception:  # noqa: S112 - an unreadable entry is a missing one
                continue

    # --- writing --------------------------------------------------------------------------

    def write(
        self,
        *,
        meta: dict[str, Any] | None = None,
        pages: dict[str, Any] | None = None,
        forget_pages: Iterable[str] = (),
        bodies: dict[str, Any] | None = None,
        keep_bodies: Iterable[str] | None = None,
        forget_bodies: Iterable[str] = (),
        record: tuple[str, Any] | None = None,
        outputs: tuple[str, dict[str, Any], Iterable[str]] | None = None,
        links: tuple[str, dict[str, Any]] | None = None,
        plan: tuple[str, Any, bytes | None] | None = None,
        forget_plan: str | None = None,
    ) -> None:
        """Write these entries in one transaction; a failure only costs the next build time.

        ``keep_bodies``: every other body is deleted (the cache holds the current site's);
        ``forget_bodies``: these are (the same, when the caller knows which bodies it has).
        ``pages``: (scope, head, page) by path. ``outputs``: (folder, (entry, ids or None:
        as stored) by output, outputs gone); ``links``: (folder, links by output), written
        as documents are made, before their entries. ``plan``: (folder,
        head, plan), the plan None when it is the one kept already (its head is replaced);
        ``forget_plan``: a folder whose plan no longer goes with its record.
        """
        if self._db is None:
            return
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            for name, value in (meta or {}).items():
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, pickle.dumps(value)))
            # Rows made as SQLite takes them: a cold build's 20000 pickled entries at once
            # were the biggest step of its memory.
            if pages:
                rows = (
                    (path, scope, marshal.dumps(head), pickle.dumps(page, 5))
                    for path, (scope, head, page) in pages.items()
                )
                db.executemany("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?)", rows)
            db.executemany("DELETE FROM pages WHERE path = ?", [(p,) for p in forget_pages])
            if bodies:
                rows = ((key, marshal.dumps(entry)) for key, entry in bodies.items())
                db.executemany("INSERT OR REPLACE INTO bodies VALUES (?, ?)", rows)
            if keep_bodies is not None:
                db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (key TEXT PRIMARY KEY)")
                db.execute("DELETE FROM keep")
                db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", ((k,) for k in keep_bodies))
                db.execute("DELETE FROM bodies WHERE key NOT IN (SELECT key FROM keep)")
            db.executemany("DELETE FROM bodies WHERE key = ?", [(k,) for k in forget_bodies])
            if record is not None:
                folder, entry = record
                db.execute(
                    "INSERT OR REPLACE INTO records VALUES (?, ?)", (folder, pickle.dumps(entry, 5))
                )
            if links is not None:  # a new document's row, its entry to come
                folder, found = links
                rows = (
                    (folder, out, None, None, marshal.dumps(entry)) for out, entry in found.items()
                )
                db.executemany("INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?, ?)", rows)
            if outputs is not None:
                folder, entries, gone = outputs
                db.executemany(
                    "UPDATE outputs SET entry = ? WHERE folder = ? AND output = ?",
                    ((marshal.dumps(entry), folder, out) for out, (entry, _) in entries.items()),
                )
                db.executemany(  # the ids when known (a document made here)
                    "UPDATE outputs SET ids = ? WHERE folder = ? AND output = ?",
                    (
                        (marshal.dumps(ids), folder, out)
                        for out, (_, ids) in entries.items()
                        if ids is not None
                    ),
                )
                db.executemany(
                    "DELETE FROM outputs WHERE folder = ? AND output = ?",
                    ((folder, o) for o in gone),
                )
            if plan is not None:
                folder, head, whole = plan
                if whole is None:
                    query = "UPDATE plan_heads SET head = ? WHERE folder = ?"
                    db.execute(query, (pickle.dumps(head, 5), folder))
                else:
                    db.execute("INSERT OR REPLACE INTO plans VALUES (?, ?)", (folder, whole))
                    query = "INSERT OR REPLACE INTO plan_heads VALUES (?, ?)"
                    db.execute(query, (folder, pickle.dumps(head, 5)))
            if forget_plan is not None:
                db.execute("DELETE FROM plans WHERE folder = ?", (forget_plan,))
                db.execute("DELETE FROM plan_heads WHERE folder = ?", (forget_plan,))
            db.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")


def _same(value: Any) -> Any:
    return value


def _format(db: sqlite3.Connection) -> Any:
    """The file's format (None: no such row, or no table ``meta``)."""
    try:
        row = db.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None else row[0]


def _layout(db: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """The ``CREATE`` statement of each table and index of ``db``, by kind and name, as
    SQLite keeps it (not those SQLite makes itself, for a primary key: they have none)."""
    query = "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
    return {(kind, name): sql for kind, name, sql in db.execute(query).fetchall()}


def _schema_layout() -> dict[tuple[str, str], str]:
    """The tables and indexes :data:`_SCHEMA` makes, as SQLite keeps them: made in memory
    and read back, so that they compare with a file's whatever SQLite's spelling of them."""
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        for statement in _SCHEMA:
            db.execute(statement)
        return _layout(db)


def _current(db: sqlite3.Connection) -> bool:
    """Whether the file's layout is :data:`_SCHEMA`'s and its entries of :data:`FORMAT`."""
    return _layout(db) == _schema_layout() and _format(db) == FORMAT


def _start_afresh(db: sqlite3.Connection) -> None:
    """Drop every table and index of the file (whatever made it), make :data:`_SCHEMA`'s, in
    one transaction: of two processes opening an old file at once, the second finds it new."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if not _current(db):
            for kind, name in _layout(db):  # a table, index, view or trigger
                db.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
        db.execute("COMMIT")
    except sqlite3.Error:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise


__all__ = ["CACHE_FOLDER", "FILE_NAME", "FORMAT", "Store"]
