"""The web app's settings: one object, read from ``ARCHCALC_*`` environment variables.

Routes receive it through the :func:`get_settings` dependency, so a test can swap it with
``app.dependency_overrides[get_settings]`` or build an app with ``create_app(Settings(...))``.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from importlib.resources import files
from pathlib import Path

from fastapi import Request
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.engine.limits import LIMITS

#: the source tree the app package was imported from, if it was (a checkout has pyproject.toml)
REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir(name: str) -> Path:
    """``templates`` or ``static``: the source tree's own folder when the app runs from a
    checkout (an editable install or a git worktree serves its own files), else the copy
    installed with the package, ``app/_templates`` or ``app/_static`` (see setup.py)."""
    source = REPO_ROOT / name
    if (REPO_ROOT / "pyproject.toml").is_file() and source.is_dir():
        return source
    return Path(str(files("app") / f"_{name}"))


def default_data_dir() -> Path:
    """Where the server keeps what it stores (the short links): the user's state directory
    (``$XDG_STATE_HOME/archcalc``, else ``~/.local/state/archcalc``), or, for a user without a
    usable home, a private folder of the temp directory named after the user id."""
    state = os.environ.get("XDG_STATE_HOME", "")
    if state and Path(state).is_absolute():
        return Path(state) / "archcalc"
    home = Path(os.path.expanduser("~"))
    if home.is_absolute() and home.is_dir() and os.access(home, os.W_OK):
        return home / ".local" / "state" / "archcalc"
    return Path(tempfile.gettempdir()) / f"archcalc-{os.geteuid()}"


class Settings(BaseSettings):
    """Everything the web layer can be configured with."""

    model_config = SettingsConfigDict(env_prefix="ARCHCALC_", frozen=True)

    max_body_bytes: int = LIMITS.max_body_bytes
    #: the largest ONNX file POST /api/import and /import take (their body limit instead)
    max_import_bytes: int = Field(64 * 2**20, ge=1024, le=1024 * 2**20)
    #: imports (ONNX, torchvision) run at once, each in a child process (app.importer.pool),
    #: and imports that may wait for one; past both, 503
    import_processes: int = Field(1, ge=1, le=64)
    import_queue: int = Field(4, ge=0, le=1000)
    #: how long one import may take before its process is killed (422)
    import_seconds: float = Field(60.0, gt=0, le=3600)
    #: memory one import's process may take beyond what it starts with (422 past it)
    import_memory_bytes: int = Field(4 * 2**30, ge=64 * 2**20)
    #: nodes an ONNX file may hold, subgraphs and functions included
    import_max_nodes: int = Field(20_000, ge=1, le=1_000_000)
    #: engine calls that may run at once (each on its own thread; see app.web.concurrency)
    analysis_threads: int = Field(4, ge=1, le=64)
    #: how long a request waits for its engine call before answering 422 (analysis_seconds)
    analysis_seconds: float = Field(5.0, gt=0, le=600)
    #: how long a request body may take to arrive before a 408 (app.web.middleware)
    body_seconds: float = Field(10.0, gt=0, le=600)
    #: how long a client may take to send a request's headers before a 408 (app.web.serve)
    header_seconds: float = Field(10.0, gt=0, le=600)
    #: the largest request head (request line and headers) in bytes; past it, 400 (app.web.serve).
    #: The default carries a spec of max_body_bytes in the calculator's GET form, every byte
    #: percent-encoded (three bytes each), plus 16 KiB of headers
    max_header_bytes: int = Field(3 * LIMITS.max_body_bytes + 16 * 1024, ge=1024,
                                  le=1024 * 1024)
    #: before a 413, read and drop at most this much of the refused body, for at most
    #: drain_seconds, so a client that sends everything before reading gets the answer
    drain_bytes: int = Field(16 * 1024 * 1024, ge=0)
    drain_seconds: float = Field(10.0, ge=0, le=600)
    #: connections (and requests in flight) one server process holds at once; past it, 503
    limit_concurrency: int = Field(1000, ge=1)
    #: connections one client address may hold open at once in one server process (a trusted
    #: proxy's are not counted: the proxy caps its clients); past it, 503 and closed. Half of
    #: limit_concurrency: a lecture hall behind one NAT address opening the page at once (a few
    #: connections a browser) fits, and one address still leaves the other half to the rest
    max_client_connections: int = Field(500, ge=1)
    #: addresses or networks (comma-separated, "10.0.0.0/8, 127.0.0.1") whose X-Forwarded-For
    #: and X-Forwarded-Proto are believed; empty: none, every client is the socket's peer
    trusted_proxies: str = ""
    #: how long an idle keep-alive connection stays open, in whole seconds
    keep_alive_seconds: int = Field(5, ge=1, le=600)
    #: server processes (``uvicorn --workers``) for ``python -m app.web.serve``
    workers: int = Field(1, ge=1, le=64)
    #: requests a second one client address may make, on average, and in one burst
    rate_per_second: float = Field(50.0, gt=0)
    rate_burst: int = Field(200, ge=1)
    #: real-run jobs (POST /api/runs, POST /runs) one client address may start a minute, and
    #: in one burst
    runs_per_minute: float = Field(6.0, gt=0)
    runs_burst: int = Field(6, ge=1)
    #: client addresses whose buckets are remembered (the least recently seen is forgotten)
    rate_clients: int = Field(10_000, ge=1)
    #: finished 200 answers each server process keeps and sends again to the same request
    #: (app.web.answercache): at most this many, and this many bytes in all; 0 turns it off
    answer_cache_entries: int = Field(1000, ge=0)
    answer_cache_bytes: int = Field(32 * 2**20, ge=0)
    templates_dir: Path = data_dir("templates")
    static_dir: Path = data_dir("static")
    #: a private directory (0700, owned by the server's user, not a symbolic link) for what
    #: the server stores: the short links' and the live sessions' SQLite files (app.web.datadir)
    data_dir: Path = Field(default_factory=default_data_dir)
    #: the short links kept at most, in number and in bytes of specs; past either a new link is
    #: refused and every link made keeps working
    shortlinks_max: int = Field(100_000, ge=1)
    shortlinks_max_bytes: int = Field(256 * 2**20, ge=64 * 1024)
    #: new short links one client address may make an hour, on average, and in one burst
    shortlinks_per_hour: float = Field(60.0, gt=0)
    shortlinks_burst: int = Field(20, ge=1)
    #: live sessions (app.web.live) are kept in data_dir's live.sqlite3, or with this set, in the
    #: Redis that shares them between web processes (unset: the job queue's broker if it is Redis)
    live_redis_url: str | None = None
    #: sessions one server keeps at once, followers of one session per process, answers to
    #: one question, and how long an untouched session lasts
    live_rooms_max: int = Field(1000, ge=1)
    live_followers_max: int = Field(1000, ge=1)
    live_answers_max: int = Field(2000, ge=1)
    live_idle_seconds: float = Field(4 * 3600.0, gt=0)
    #: live sessions one client address may start an hour, and in one burst
    live_per_hour: float = Field(20.0, gt=0)
    live_burst: int = Field(5, ge=1)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        """The same list, each entry checked to be an address or a network."""
        return ",".join(str(net) for net in parse_networks(value))

    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """``trusted_proxies`` as networks (an address is a network of one)."""
        return parse_networks(self.trusted_proxies)


def parse_networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` as networks; anything else is a ValueError naming it."""
    networks = []
    for item in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network (such as 127.0.0.1 or "
                             "10.0.0.0/8)") from None
    return tuple(networks)


def get_settings(request: Request) -> Settings:
    """The settings the running app was built with."""
    settings: Settings = request.app.state.settings
    return settings
