"""PNG plots of a run: latency percentiles and throughput over time, one line per server.

matplotlib is an optional dependency (``pip install baatcheet[bench]``); without it the
run still prints its table and writes its JSON, and says the plots were skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from baatcheet.loadtest.progress import Point

__all__ = ["PERCENTILES", "plot_latency", "plot_throughput", "plots_available"]

PERCENTILES = ("p50_ms", "p90_ms", "p99_ms")


def plots_available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def plot_latency(
    path: Path, title: str, ylabel: str, latencies: Mapping[str, Mapping[str, float | None]]
) -> bool:
    """Draws p50/p90/p99 (x) against milliseconds (y), one line per server; False if no data."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    drawn = False
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    labels = [name.removesuffix("_ms") for name in PERCENTILES]
    for server, summary in latencies.items():
        values = [value for name in PERCENTILES if (value := summary.get(name)) is not None]
        if len(values) != len(PERCENTILES):
            continue
        ax.plot(labels, values, marker="o", label=server)
        drawn = True
    if drawn:
        _save(fig, ax, path, title=title, xlabel="percentile", ylabel=ylabel)
    plt.close(fig)
    return drawn


def plot_throughput(path: Path, title: str, series: Mapping[str, Mapping[int, Point]]) -> bool:
    """Draws the rate per second since each server's phase began, one line per server."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    drawn = False
    units: list[str] = []
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
    for server, points in series.items():
        if not points:
            continue
        start = min(points)
        seconds = sorted(points)
        ax.plot([s - start for s in seconds], [points[s].rate for s in seconds], label=server)
        for point in points.values():
            if point.unit and point.unit not in units:
                units.append(point.unit)
        drawn = True
    if drawn:
        # A storm's line counts connects, then (after the restart) re-joins.
        ylabel = ", then ".join(units) or "per second"
        _save(fig, ax, path, title=title, xlabel="seconds since the phase began", ylabel=ylabel)
    plt.close(fig)
    return drawn


def _save(fig: Any, ax: Any, path: Path, *, title: str, xlabel: str, ylabel: str) -> None:
    """Label both plots alike (axes from zero, a light grid, a legend) and write the PNG."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
