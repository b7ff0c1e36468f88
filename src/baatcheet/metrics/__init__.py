"""Prometheus metrics of one node, fed by the layers' observer hooks.

``metrics`` imports no other layer: each observer here fits its layer's protocol by its
shape, and :class:`~baatcheet.sio.Server` (with ``Settings.metrics`` on) hands them down
and serves ``/metrics``. See docs/how-to/operations.md for the metric names and the
Prometheus scrape configuration.
"""

from baatcheet.metrics.registry import Metrics

__all__ = ["Metrics"]
