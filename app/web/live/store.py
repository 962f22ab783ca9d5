"""Where rooms and answers are kept: a SQLite file for one machine (a restart keeps the
session), or Redis keys with a time to live when several web processes share sessions.

Both give the same guarantees: a room is created only under the room bound; one answer per
question per device, decided by the store in one step (a primary key, ``HSETNX``), so two
requests racing from the same phone record one answer; a room idle for ``idle_seconds`` is gone.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread

from app.web.datadir import StoreUnavailable, check_db_file, open_private_dir
from app.web.live.rooms import Room

DB_NAME = "live.sqlite3"
__all__ = ["DB_NAME", "Full", "RedisStore", "SqliteStore", "Store", "StoreUnavailable"]


class Full(Exception):
    """A bound was reached; the message says which."""


class Store(Protocol):
    async def create(self, room: Room) -> None: ...
    async def get(self, code: str) -> Room | None: ...
    async def put(self, room: Room) -> None: ...
    async def add_answer(self, code: str, qid: str, device: str, text: str) -> bool: ...
    async def answers(self, code: str, qid: str) -> dict[str, str]: ...
    async def close(self) -> None: ...


class SqliteStore:
    """Rooms and answers in ``<data dir>/live.sqlite3``; every call on a worker thread, one at
    a time, over one connection kept open (its locks are this process's)."""

    def __init__(self, directory: Path, max_rooms: int, max_answers: int,
                 idle_seconds: float) -> None:
        self.directory = directory
        self.path = directory / DB_NAME
        self.max_rooms = max_rooms
        self.max_answers = max_answers
        self.idle = idle_seconds
        self.lock = threading.Lock()
        self.db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self.db is None:
            dir_fd = open_private_dir(self.directory)
            try:
                check_db_file(dir_fd, DB_NAME, self.path, "the live-session file")
            finally:
                os.close(dir_fd)
            try:
                db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("CREATE TABLE IF NOT EXISTS rooms (code TEXT PRIMARY KEY, "
                           "doc TEXT NOT NULL, touched REAL NOT NULL)")
                db.execute("CREATE TABLE IF NOT EXISTS answers (code TEXT, qid TEXT, "
                           "device TEXT, answer TEXT NOT NULL, "
                           "PRIMARY KEY (code, qid, device))")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"the live-session store {self.path} cannot be "
                                       f"opened: {exc}") from exc
            self.db = db
        return self.db

    async def _run(self, fn: Any, *args: Any) -> Any:
        def call() -> Any:
            with self.lock:
                try:
                    return fn(self._open(), *args)
                except sqlite3.Error as exc:
                    raise StoreUnavailable(f"the live-session store failed: {exc}") from exc
        return await anyio.to_thread.run_sync(call)

    def _purge(self, db: sqlite3.Connection) -> None:
        old = time.time() - self.idle
        gone = [c for (c,) in db.execute("SELECT code FROM rooms WHERE touched < ?", (old,))]
        for code in gone:
            db.execute("DELETE FROM rooms WHERE code = ?", (code,))
            db.execute("DELETE FROM answers WHERE code = ?", (code,))

    async def create(self, room: Room) -> None:
        def create(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                self._purge(db)
                (n,) = db.execute("SELECT count(*) FROM rooms").fetchone()
                if n >= self.max_rooms:
                    raise Full(f"this server holds {n:,} live sessions, its limit "
                               "(live_rooms_max); try again when one has ended")
                db.execute("INSERT INTO rooms VALUES (?, ?, ?)",
                           (room.code, room.to_json(), room.touched))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        await self._run(create)

    async def get(self, code: str) -> Room | None:
        def get(db: sqlite3.Connection) -> Room | None:
            row = db.execute("SELECT doc, touched FROM rooms WHERE code = ?", (code,)).fetchone()
            if row is None or row[1] < time.time() - self.idle:
                return None
            return Room.from_json(row[0])
        result: Room | None = await self._run(get)
        return result

    async def put(self, room: Room) -> None:
        await self._run(lambda db: db.execute(
            "UPDATE rooms SET doc = ?, touched = ? WHERE code = ?",
            (room.to_json(), room.touched, room.code)))

    async def add_answer(self, code: str, qid: str, device: str, text: str) -> bool:
        def add(db: sqlite3.Connection) -> bool:
            (n,) = db.execute("SELECT count(*) FROM answers WHERE code = ? AND qid = ?",
                              (code, qid)).fetchone()
            if n >= self.max_answers:
                raise Full(f"this question has {n:,} answers, the limit (live_answers_max)")
            cur = db.execute("INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?)",
                             (code, qid, device, text))
            return cur.rowcount == 1
        added: bool = await self._run(add)
        return added

    async def answers(self, code: str, qid: str) -> dict[str, str]:
        rows = await self._run(lambda db: db.execute(
            "SELECT device, answer FROM answers WHERE code = ? AND qid = ? ORDER BY rowid",
            (code, qid)).fetchall())
        return dict(rows)

    async def close(self) -> None:
        with self.lock:
            if self.db is not None:
                self.db.close()
                self.db = None


class RedisStore:
    """Rooms as JSON strings and answers as hashes, each key living ``idle_seconds`` past
    its last write."""

    PREFIX = "archcalc:live:"

    def __init__(self, redis: Any, max_rooms: int, max_answers: int,
                 idle_seconds: float) -> None:
        self.redis = redis
        self.max_rooms = max_rooms
        self.max_answers = max_answers
        self.ttl = max(1, int(idle_seconds))

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except Exception as exc:  # redis.exceptions.* all derive from Exception
            raise StoreUnavailable(f"the live-session store (Redis) failed: {exc}") from exc

    async def create(self, room: Room) -> None:
        rooms = self.PREFIX + "rooms"
        now = time.time()
        await self._call(self.redis.zremrangebyscore(rooms, "-inf", now - self.ttl))
        n = int(await self._call(self.redis.zcard(rooms)))
        if n >= self.max_rooms:
            raise Full(f"this server holds {n:,} live sessions, its limit (live_rooms_max); "
                       "try again when one has ended")
        await self._call(self.redis.set(self.PREFIX + "room:" + room.code, room.to_json(),
                                        ex=self.ttl, nx=True))
        await self._call(self.redis.zadd(rooms, {room.code: now}))

    async def get(self, code: str) -> Room | None:
        doc = await self._call(self.redis.get(self.PREFIX + "room:" + code))
        return Room.from_json(doc.decode() if isinstance(doc, bytes) else doc) if doc else None

    async def put(self, room: Room) -> None:
        await self._call(self.redis.set(self.PREFIX + "room:" + room.code, room.to_json(),
                                        ex=self.ttl))
        await self._call(self.redis.zadd(self.PREFIX + "rooms", {room.code: time.time()}))

    async def add_answer(self, code: str, qid: str, device: str, text: str) -> bool:
        key = f"{self.PREFIX}answers:{code}:{qid}"
        n = int(await self._call(self.redis.hlen(key)))
        if n >= self.max_answers:
            raise Full(f"this question has {n:,} answers, the limit (live_answers_max)")
        added = bool(await self._call(self.redis.hsetnx(key, device, text)))
        await self._call(self.redis.expire(key, self.ttl))
        return added

    async def answers(self, code: str, qid: str) -> dict[str, str]:
        raw = await self._call(self.redis.hgetall(f"{self.PREFIX}answers:{code}:{qid}"))
        return {(k.decode() if isinstance(k, bytes) else k):
                (v.decode() if isinstance(v, bytes) else v) for k, v in raw.items()}

    async def close(self) -> None:
        await self.redis.aclose()
