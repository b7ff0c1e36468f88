"""Why ``baatcheet bench`` could not run: each error says what to install or fix.

::

    BaatcheetError
    └── BenchError            a benchmark could not run (message says why)
        └── NodeMissingError  node or npm is not on PATH
"""

from __future__ import annotations

from baatcheet.errors import BaatcheetError

__all__ = ["BenchError", "NodeMissingError"]


class BenchError(BaatcheetError):
    """A benchmark could not be set up or run; the message says what to fix."""


class NodeMissingError(BenchError):
    """The load generator needs Node.js (>= 20) and npm on PATH."""
