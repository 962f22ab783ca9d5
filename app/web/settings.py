"""The web app's settings: one object, read from ``ARCHCALC_*`` environment variables.

Routes receive it through the :func:`get_settings` dependency, so a test can swap it with
``app.dependency_overrides[get_settings]`` or build an app with ``create_app(Settings(...))``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.engine.limits import LIMITS

#: the repository root: templates/ and static/ live here (the app is installed editable)
REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Everything the web layer can be configured with."""

    model_config = SettingsConfigDict(env_prefix="ARCHCALC_", frozen=True)

    max_body_bytes: int = LIMITS.max_body_bytes
    #: engine calls that may run at once (each on its own thread; see app.web.concurrency)
    analysis_threads: int = Field(4, ge=1, le=64)
    templates_dir: Path = REPO_ROOT / "templates"
    static_dir: Path = REPO_ROOT / "static"


def get_settings(request: Request) -> Settings:
    """The settings the running app was built with."""
    settings: Settings = request.app.state.settings
    return settings
