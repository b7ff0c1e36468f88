"""Types of the factory fixtures in ``tests/conftest.py``, importable by tests for annotations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["ServerFactory"]

ServerFactory = Callable[..., Awaitable[Any]]
"""``await running_server(**settings_fields)`` → a started ``baatcheet.sio.Server``.

The result is typed ``Any`` so the fixture never imports ``baatcheet.sio`` at collection
time; annotate the variable as ``Server`` in the test when you want its methods checked.
"""
