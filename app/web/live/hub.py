"""Fan-out of a room's events to the browsers that follow it.

Each follower has a mailbox that keeps only the latest event of each kind: a slow phone that
misses three edits gets the fourth, never a queue that grows while it is away, so a follower
costs the same memory however far behind it falls. The in-process hub delivers directly; the
Redis hub sends every event through a channel so that followers connected to other web
processes (or machines) get it too, and each process delivers to its own followers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("archcalc.live")

#: the kinds a follower may receive, in the order a backlog is sent (state before the question
#: about it, the question before its reveal)
KINDS = ("state", "question", "reveal", "answers", "closed")
#: what a student's page receives; the rest (the answers as they arrive) is for the instructor
STUDENT_KINDS = frozenset({"state", "question", "reveal", "closed"})


class Follower:
    """One open event stream: a mailbox of the latest event of each kind."""

    __slots__ = ("instructor", "mailbox", "wake")

    def __init__(self, instructor: bool) -> None:
        self.instructor = instructor
        self.mailbox: dict[str, str] = {}
        self.wake = asyncio.Event()

    def offer(self, kind: str, data: str) -> None:
        if self.instructor or kind in STUDENT_KINDS:
            self.mailbox[kind] = data
            self.wake.set()

    async def events(self) -> AsyncIterator[tuple[str, str]]:
        while True:
            await self.wake.wait()
            self.wake.clear()
            batch, self.mailbox = self.mailbox, {}
            for kind in KINDS:
                if kind in batch:
                    yield kind, batch[kind]


class Hub:
    """In-process fan-out: the default, for one server process."""

    def __init__(self) -> None:
        self.rooms: dict[str, set[Follower]] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def count(self, code: str) -> int:
        return len(self.rooms.get(code, ()))

    @contextmanager
    def follow(self, code: str, instructor: bool) -> Iterator[Follower]:
        follower = Follower(instructor)
        self.rooms.setdefault(code, set()).add(follower)
        try:
            yield follower
        finally:
            followers = self.rooms.get(code)
            if followers is not None:
                followers.discard(follower)
                if not followers:
                    del self.rooms[code]

    def deliver(self, code: str, kind: str, data: str) -> None:
        for follower in self.rooms.get(code, ()):
            follower.offer(kind, data)

    async def publish(self, code: str, kind: str, data: str) -> None:
        self.deliver(code, kind, data)


class RedisHub(Hub):
    """Fan-out through Redis pub/sub: one subscription per process, to every room's channel."""

    PREFIX = "archcalc:live:events:"

    def __init__(self, redis: Any) -> None:
        super().__init__()
        self.redis = redis
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self._listen(), name="archcalc-live-hub")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    async def publish(self, code: str, kind: str, data: str) -> None:
        await self.redis.publish(self.PREFIX + code, json.dumps([kind, data]))

    async def _listen(self) -> None:
        """Deliver each message to this process's followers; after a lost connection,
        subscribe again (followers keep their streams and get the next event)."""
        while True:
            try:
                pubsub = self.redis.pubsub()
                await pubsub.psubscribe(self.PREFIX + "*")
                async for message in pubsub.listen():
                    if message.get("type") != "pmessage":
                        continue
                    channel = message["channel"]
                    if isinstance(channel, bytes):
                        channel = channel.decode()
                    kind, data = json.loads(message["data"])
                    self.deliver(channel.removeprefix(self.PREFIX), kind, data)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: try again, without spinning
                log.warning("live events: the Redis subscription failed (%s); retrying", exc)
                await asyncio.sleep(1.0)
