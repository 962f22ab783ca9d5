"""Short links for specs too long for a comfortable URL: an embedded SQLite store.

A link's id is content-addressed: the first 13 characters of the base32 sha256 of the
normalised state (the spec with its line ends made ``\\n``, and the options, as canonical JSON),
so the same spec and options always get the same link, and storing it twice stores it once.

The store is bounded: a state is at most ``MAX_BYTES`` (64 KiB) of JSON, and the store keeps at
most ``max_count`` links and ``max_bytes`` bytes of states. At the bound a *new* link is refused
with a message, and every link already made keeps working: a link printed on a handout must not
stop working because others made links since (which evicting the least recently used would do,
silently, and on an attacker's schedule). Checking the bound and inserting is one ``BEGIN
IMMEDIATE`` transaction, so concurrent writers (threads or server processes) cannot overshoot it
and identical states get one row.

The file lives in the server's private data directory (``app.web.datadir``); a store that
cannot be opened raises :class:`StoreUnavailable` (the web layer answers 503). Nothing is executed or rendered from
here: the pages show a stored spec through the templates' escaping, like any spec typed in.
Standard library only; each call opens its own connection, so a store can be shared by threads
and processes, and it survives a restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.engine.lines import LINE_BREAK
from app.web.datadir import StoreUnavailable, check_db_file, open_private_dir

#: the largest state stored, in bytes of canonical JSON
MAX_BYTES = 64 * 1024
ID_LENGTH = 13
ID_PATTERN = re.compile(rf"^[a-z2-7]{{{ID_LENGTH}}}$")
DB_NAME = "shortlinks.sqlite3"
#: how long a call waits for another writer's lock before giving up (the thread is bounded)
BUSY_SECONDS = 3.0
SCHEMA_VERSION = 1
#: the tables, and a running total kept by triggers (the bounds are checked without a scan)
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS links (id TEXT PRIMARY KEY, state TEXT NOT NULL, "
    "created REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS totals (one INTEGER PRIMARY KEY CHECK (one = 1), "
    "links INTEGER NOT NULL, bytes INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO totals "
    "SELECT 1, COUNT(*), COALESCE(SUM(LENGTH(CAST(state AS BLOB))), 0) FROM links",
    "CREATE TRIGGER IF NOT EXISTS links_added AFTER INSERT ON links BEGIN "
    "UPDATE totals SET links = links + 1, bytes = bytes + LENGTH(CAST(NEW.state AS BLOB)); END",
    "CREATE TRIGGER IF NOT EXISTS links_removed AFTER DELETE ON links BEGIN "
    "UPDATE totals SET links = links - 1, bytes = bytes - LENGTH(CAST(OLD.state AS BLOB)); END",
)


class ShortLinkError(ValueError):
    """A state that cannot be stored: too large, or the store is full. ``limit`` names it."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


def normalise(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state as stored: the spec's line ends as ``\\n``; everything else as given."""
    out = dict(state)
    out["spec"] = LINE_BREAK.sub("\n", str(out.get("spec", "")))
    return out


def canonical(state: Mapping[str, Any]) -> str:
    return json.dumps(normalise(state), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def link_id(state: Mapping[str, Any]) -> str:
    """The content address of a state: the same state always gets the same id."""
    digest = hashlib.sha256(canonical(state).encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:ID_LENGTH]


class ShortLinkStore:
    """Short links in ``<directory>/shortlinks.sqlite3`` (the directory private, see above)."""

    def __init__(self, directory: Path, max_count: int, max_bytes: int = 2**40) -> None:
        self.directory = directory
        self.path = directory / DB_NAME
        self.max_count = max_count
        self.max_bytes = max_bytes

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        dir_fd = open_private_dir(self.directory)
        try:
            check_db_file(dir_fd, DB_NAME, self.path, "the short-link file")
        finally:
            os.close(dir_fd)
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the short-link file {self.path} cannot be opened "
                                   f"({exc})") from None
        try:
            # with write-ahead logging this is still safe from corruption; a power cut may lose
            # the last links made, never an older one, and a commit waits for no disk flush
            db.execute("PRAGMA synchronous = NORMAL")
            if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                self._create(db)
            yield db
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            raise StoreUnavailable(f"the short-link file {self.path}: {exc}", busy) from None
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailable(f"the short-link file {self.path} is not a usable SQLite "
                                   f"database ({exc})") from None
        finally:
            db.close()

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        # write-ahead logging: readers (every page of a link) never wait for a writer
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in SCHEMA:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # SQLite rolls back by itself after some errors
                db.execute("ROLLBACK")
            raise

    def put(self, state: Mapping[str, Any]) -> str:
        """Store a state (once), and return its id; a new one past the bounds is refused."""
        text = canonical(state)
        size = len(text.encode("utf-8"))
        if size > MAX_BYTES:
            raise ShortLinkError("shortlink_bytes", f"the spec and options take {size:,} bytes; "
                                                    f"a short link holds at most {MAX_BYTES:,}")
        key = link_id(state)
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")  # the write lock first: the check and insert are one
            try:
                self._insert(db, key, text, size)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return key

    def _insert(self, db: sqlite3.Connection, key: str, text: str, size: int) -> None:
        if db.execute("SELECT 1 FROM links WHERE id = ?", (key,)).fetchone():
            return
        count, used = db.execute("SELECT links, bytes FROM totals").fetchone()
        if count >= self.max_count:
            raise ShortLinkError("shortlinks_max", f"the short-link store is full: it keeps at "
                                                   f"most {self.max_count:,} links, and the ones "
                                                   f"made keep working; share the long link "
                                                   f"instead")
        if used + size > self.max_bytes:
            raise ShortLinkError("shortlinks_max_bytes", f"the short-link store is full: it "
                                                         f"keeps at most {self.max_bytes:,} "
                                                         f"bytes of specs, and the links made "
                                                         f"keep working; share the long link "
                                                         f"instead")
        db.execute("INSERT INTO links (id, state, created) VALUES (?, ?, ?) "
                   "ON CONFLICT (id) DO NOTHING", (key, text, time.time()))

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        with self._db() as db:
            return db.execute("SELECT 1 FROM links WHERE id = ?", (key,)).fetchone() is not None

    def get(self, key: str) -> dict[str, Any] | None:
        """The state stored under ``key``, or None (also for anything not shaped like an id)."""
        if not ID_PATTERN.match(key):
            return None
        with self._db() as db:
            row = db.execute("SELECT state FROM links WHERE id = ?", (key,)).fetchone()
        if row is None:
            return None
        state: dict[str, Any] = json.loads(row[0])
        return state

    def count(self) -> int:
        with self._db() as db:
            n: int = db.execute("SELECT COUNT(*) FROM links").fetchone()[0]
        return n

    def stored_bytes(self) -> int:
        """The bytes of states stored, as the bound counts them."""
        with self._db() as db:
            n: int = db.execute("SELECT bytes FROM totals").fetchone()[0]
        return n


__all__ = ["DB_NAME", "MAX_BYTES", "ShortLinkError", "ShortLinkStore", "StoreUnavailable",
           "canonical", "link_id", "normalise", "open_private_dir"]
