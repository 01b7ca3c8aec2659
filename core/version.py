"""Mnemo's version, one place (kept equal to pyproject.toml's by a test); the packaged app has
no installed distribution metadata to ask."""

from __future__ import annotations

VERSION = "0.1.0"
