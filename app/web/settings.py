"""The web app's settings: one object, read from ``ARCHCALC_*`` environment variables.

Routes receive it through the :func:`get_settings` dependency, so a test can swap it with
``app.dependency_overrides[get_settings]`` or build an app with ``create_app(Settings(...))``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import Request
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.engine.limits import LIMITS

#: the repository root: templates/ and static/ live here (the app is installed editable)
REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Everything the web layer can be configured with."""

    model_config = SettingsConfigDict(env_prefix="ARCHCALC_", frozen=True)

    max_body_bytes: int = LIMITS.max_body_bytes
    templates_dir: Path = REPO_ROOT / "templates"
    static_dir: Path = REPO_ROOT / "static"
    #: the short links' SQLite file (app.web.shortlinks), and how many links it keeps at most
    shortlinks_db: Path = Path(tempfile.gettempdir()) / "archcalc" / "shortlinks.sqlite3"
    shortlinks_max: int = 10_000


def get_settings(request: Request) -> Settings:
    """The settings the running app was built with."""
    settings: Settings = request.app.state.settings
    return settings
