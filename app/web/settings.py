"""The web app's settings: one object, read from ``ARCHCALC_*`` environment variables.

Routes receive it through the :func:`get_settings` dependency, so a test can swap it with
``app.dependency_overrides[get_settings]`` or build an app with ``create_app(Settings(...))``.
"""

from __future__ import annotations

import tempfile
from importlib.resources import files
from pathlib import Path

from fastapi import Request
from pydantic import Field
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


class Settings(BaseSettings):
    """Everything the web layer can be configured with."""

    model_config = SettingsConfigDict(env_prefix="ARCHCALC_", frozen=True)

    max_body_bytes: int = LIMITS.max_body_bytes
    #: engine calls that may run at once (each on its own thread; see app.web.concurrency)
    analysis_threads: int = Field(4, ge=1, le=64)
    #: how long a request waits for its engine call before answering 422 (analysis_seconds)
    analysis_seconds: float = Field(5.0, gt=0, le=600)
    templates_dir: Path = data_dir("templates")
    static_dir: Path = data_dir("static")
    #: the short links' SQLite file (app.web.shortlinks), and how many links it keeps at most
    shortlinks_db: Path = Path(tempfile.gettempdir()) / "archcalc" / "shortlinks.sqlite3"
    shortlinks_max: int = 10_000


def get_settings(request: Request) -> Settings:
    """The settings the running app was built with."""
    settings: Settings = request.app.state.settings
    return settings
