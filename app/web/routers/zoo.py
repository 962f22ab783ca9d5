"""Zoo and lecture routes (/api/models, /api/lecture). Filled in by the zoo work."""

from fastapi import APIRouter

router = APIRouter()
