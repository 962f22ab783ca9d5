"""Short links for specs too long for a comfortable URL: an embedded SQLite store.

A link's id is content-addressed: the first 13 characters of the base32 sha256 of the
normalised state (the spec with its line ends made ``\\n``, and the options, as canonical JSON),
so the same spec and options always get the same link, and storing it twice stores it once.
The store is bounded: a state is at most ``MAX_BYTES`` (64 KiB) of JSON, and at most
``max_count`` links are kept (a new one past that is refused; the ones there keep working).
Nothing is executed or rendered from here: the pages show a stored spec through the
templates' escaping, like any spec typed in. Standard library only (``sqlite3``); each call
opens its own connection, so a store can be shared by threads and processes, and it survives a
restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: the largest state stored, in bytes of canonical JSON
MAX_BYTES = 64 * 1024
ID_LENGTH = 13
ID_PATTERN = re.compile(rf"^[a-z2-7]{{{ID_LENGTH}}}$")
SCHEMA = ("CREATE TABLE IF NOT EXISTS links (id TEXT PRIMARY KEY, state TEXT NOT NULL, "
          "created REAL NOT NULL)")


class ShortLinkError(ValueError):
    """A state that cannot be stored: too large, or the store is full. ``limit`` names it."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


def normalise(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state as stored: the spec's line ends as ``\\n``; everything else as given."""
    out = dict(state)
    out["spec"] = str(out.get("spec", "")).replace("\r\n", "\n").replace("\r", "\n")
    return out


def canonical(state: Mapping[str, Any]) -> str:
    return json.dumps(normalise(state), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def link_id(state: Mapping[str, Any]) -> str:
    """The content address of a state: the same state always gets the same id."""
    digest = hashlib.sha256(canonical(state).encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:ID_LENGTH]


class ShortLinkStore:
    """Short links in one SQLite file (created with its folder when missing)."""

    def __init__(self, path: Path, max_count: int) -> None:
        self.path = path
        self.max_count = max_count

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10)
        try:
            db.execute(SCHEMA)
            with db:  # a transaction: committed on success, rolled back on error
                yield db
        finally:
            db.close()

    def put(self, state: Mapping[str, Any]) -> str:
        """Store a state (once), and return its id."""
        text = canonical(state)
        size = len(text.encode("utf-8"))
        if size > MAX_BYTES:
            raise ShortLinkError("shortlink_bytes", f"the spec and options take {size:,} bytes; "
                                                    f"a short link holds at most {MAX_BYTES:,}")
        key = link_id(state)
        with self._db() as db:
            if db.execute("SELECT 1 FROM links WHERE id = ?", (key,)).fetchone():
                return key
            count: int = db.execute("SELECT COUNT(*) FROM links").fetchone()[0]
            if count >= self.max_count:
                raise ShortLinkError("shortlinks_max", f"the store holds its limit of "
                                                       f"{self.max_count:,} short links; "
                                                       f"share the long link instead")
            db.execute("INSERT INTO links (id, state, created) VALUES (?, ?, ?)",
                       (key, text, time.time()))
        return key

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


__all__ = ["MAX_BYTES", "ShortLinkError", "ShortLinkStore", "canonical", "link_id", "normalise"]
