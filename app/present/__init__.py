"""Presentation data shared by every renderer (pure: no Jinja, no web framework)."""
