"""Small atomic records beside the results: who answers a question, which attempt of a run is
current, who may cancel it, and the heartbeats of running jobs.

Every operation is atomic where the results live: with Redis, ``SET NX`` (add), a compare-and-set
script (replace) and keys that expire (heartbeats); with a database (the embedded mode's SQLite
file, or any ``db+`` backend), one table whose key is unique. So N web processes asking the same
question at once make one job, and of N web processes that see a lost job, one re-queues it.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from app.worker.settings import WorkerSettings

PREFIX = "archcalc.claim."

#: replace ``KEYS[1]``'s value ``ARGV[1]`` by ``ARGV[2]`` (expiring after ``ARGV[3]`` s)
_REPLACE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


class Claims(Protocol):
    def add(self, key: str, value: str, ttl: float) -> bool:
        """Set ``key`` unless it is set (or expired); True when this call set it."""

    def get(self, key: str) -> str | None: ...

    def replace(self, key: str, old: str, new: str, ttl: float) -> bool:
        """Set ``key`` to ``new`` only while it holds ``old``; True when this call did."""

    def put(self, key: str, value: str, ttl: float) -> None:
        """Set ``key`` whatever it holds."""


class RedisClaims:
    def __init__(self, url: str) -> None:
        import redis

        self.client: Any = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
        self._replace = self.client.register_script(_REPLACE)

    def add(self, key: str, value: str, ttl: float) -> bool:
        return bool(self.client.set(PREFIX + key, value, nx=True, px=int(ttl * 1000)))

    def get(self, key: str) -> str | None:
        found = self.client.get(PREFIX + key)
        return None if found is None else found.decode()

    def replace(self, key: str, old: str, new: str, ttl: float) -> bool:
        return bool(self._replace(keys=[PREFIX + key], args=[old, new, max(1, int(ttl))]))

    def put(self, key: str, value: str, ttl: float) -> None:
        self.client.set(PREFIX + key, value, px=int(ttl * 1000))


class SqlClaims:
    """One table, ``key`` its primary key; expired rows count as absent, and each new key
    clears them out."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import Column, Float, MetaData, String, Table, Text, create_engine

        self.engine = create_engine(url, connect_args={"timeout": 10}
                                    if url.startswith("sqlite") else {})
        meta = MetaData()
        self.table = Table("archcalc_claims", meta, Column("key", String(200), primary_key=True),
                           Column("value", Text, nullable=False),
                           Column("expires", Float, nullable=False))
        meta.create_all(self.engine)

    def add(self, key: str, value: str, ttl: float) -> bool:
        from sqlalchemy import delete, insert
        from sqlalchemy.exc import IntegrityError

        now = time.time()
        t = self.table
        with self.engine.begin() as conn:  # every expired row: the file stays bounded
            conn.execute(delete(t).where(t.c.expires < now))
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(t).values(key=key, value=value, expires=now + ttl))
        except IntegrityError:
            return False
        return True

    def get(self, key: str) -> str | None:
        from sqlalchemy import select

        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(select(t.c.value).where(
                t.c.key == key, t.c.expires >= time.time())).first()
        return None if row is None else str(row[0])

    def replace(self, key: str, old: str, new: str, ttl: float) -> bool:
        from sqlalchemy import update

        t = self.table
        with self.engine.begin() as conn:
            done = conn.execute(update(t).where(t.c.key == key, t.c.value == old).values(
                value=new, expires=time.time() + ttl))
        return bool(done.rowcount == 1)

    def put(self, key: str, value: str, ttl: float) -> None:
        if not self.add(key, value, ttl):
            from sqlalchemy import update

            t = self.table
            with self.engine.begin() as conn:
                conn.execute(update(t).where(t.c.key == key).values(
                    value=value, expires=time.time() + ttl))


def open_claims(settings: WorkerSettings) -> Claims:
    """The claims of this deployment, where its results are kept."""
    url = settings.backend()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisClaims(url)
    if url.startswith("db+"):
        return SqlClaims(url[len("db+"):])
    raise ValueError(f"result backend {url.split(':')[0]}: runs need Redis or a database "
                     "(db+...) to keep their records")
