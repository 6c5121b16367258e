"""The one error the engine raises."""

from __future__ import annotations


class EngineError(RuntimeError):
    """A server could not be created, started, changed or stopped; the message says what and
    why (it never holds a password)."""
