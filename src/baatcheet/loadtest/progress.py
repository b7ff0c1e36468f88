"""The live progress line on stderr, and the per-second series the throughput plot draws.

Every generator prints a sample a second (phase, rate, percentiles of the step so far).
Samples of one wall-clock second from several generators are one point: their rates
add up, and the worst p99 stands for all. On a terminal the line is redrawn in place;
otherwise (CI logs, a pipe) one line is printed every ten seconds.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = ["Point", "Progress"]

_PLAIN_EVERY_S = 10.0
_BEFORE_LOAD = frozenset({"ready", "quiet"})
"""Steps of a generator before it loads the server: shown, but not part of the series."""


@dataclass
class Point:
    """One second of a phase, over every generator."""

    rate: float = 0.0
    unit: str = ""
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None


def _worst(a: float | None, b: object) -> float | None:
    if not isinstance(b, int | float):
        return a
    return float(b) if a is None else max(a, float(b))


@dataclass
class Progress:
    """Collects samples, keeps the series, and draws the progress line."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    series: dict[str, dict[str, dict[int, Point]]] = field(default_factory=dict)
    _label: str = ""
    _phase: str = ""
    _started: float = field(default_factory=time.monotonic)
    _last_plain: float = 0.0
    _drawn: bool = False

    def begin(self, label: str, phase: str) -> None:
        """A new phase of column ``label`` starts."""
        self._label, self._phase, self._started = label, phase, time.monotonic()
        self.series.setdefault(label, {})[phase] = {}
        self.note(f"{label} {phase}")

    def sample(self, _generator: int, data: dict[str, Any]) -> None:
        """Takes one generator's ``@progress`` sample."""
        step = str(data.get("phase", ""))
        if step in _BEFORE_LOAD:
            self._draw(step, Point(unit=str(data.get("unit", ""))))
            return
        second = math.floor(float(data.get("t_ms", time.time() * 1000)) / 1000)
        points = self.series.setdefault(self._label, {}).setdefault(self._phase, {})
        point = points.setdefault(second, Point(unit=str(data.get("unit", ""))))
        rate = data.get("rate")
        if isinstance(rate, int | float):
            point.rate += rate
        point.p50_ms = _worst(point.p50_ms, data.get("p50_ms"))
        point.p90_ms = _worst(point.p90_ms, data.get("p90_ms"))
        point.p99_ms = _worst(point.p99_ms, data.get("p99_ms"))
        self._draw(step, point)

    def _draw(self, step: str, point: Point) -> None:
        elapsed = time.monotonic() - self._started
        p99 = "" if point.p99_ms is None else f"  p99 {point.p99_ms:,.2f} ms"
        line = (
            f"[{self._label} {self._phase}] {step:<18} {elapsed:6.0f} s"
            f"  {point.rate:>10,.0f} {point.unit}{p99}"
        )
        if self.stream.isatty():
            self.stream.write("\r\x1b[2K" + line)
            self._drawn = True
        elif time.monotonic() - self._last_plain >= _PLAIN_EVERY_S:
            self.stream.write(line + "\n")
            self._last_plain = time.monotonic()
        self.stream.flush()

    def end(self) -> None:
        """Ends a redrawn progress line, so what is printed next starts on a line of its own."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def note(self, message: str) -> None:
        """Prints ``message`` on a line of its own (ending a redrawn progress line first)."""
        self.end()
        self.stream.write(f"bench: {message}\n")
        self.stream.flush()
