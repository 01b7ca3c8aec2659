"""Fixtures for end-to-end tests: the private Xvfb display, its Tk windows and a fresh unlocked
store, shared with the app tests (defined once in tests/app/conftest.py)."""

from tests.app.conftest import clock, open_window, services, xvfb

__all__ = ["clock", "open_window", "services", "xvfb"]
