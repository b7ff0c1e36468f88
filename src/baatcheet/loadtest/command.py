"""The ``baatcheet bench`` command line.

::

    baatcheet bench SCENARIO [--quick] [--compare node,baatcheet | --target LABEL=ws://HOST:PORT
                    [--server-pid LABEL=PID]] [--generators N] [--clients N] [--secs S]
                    [--quiet-secs 15] [--receipts] [--out DIR] [--no-plots] [--no-pin]

Exit status: 0 the run finished (a column that failed shows its error in the table);
1 it could not run (the message says why); 2 the command line is wrong.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from baatcheet.loadtest.errors import BenchError
from baatcheet.loadtest.runner import RunOptions, Target, run
from baatcheet.loadtest.scenarios import SCENARIOS, scenario
from baatcheet.loadtest.servers import bench_dir

__all__ = ["build_parser", "main"]


def build_parser(prog: str = "baatcheet bench") -> argparse.ArgumentParser:
    """The parser of ``baatcheet bench`` (and of ``scripts/bench``, its wrapper)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Load a Socket.IO server (yours, Baatcheet, Node) and print a table; JSON and PNG"
            " plots are written next to each other. Scenarios: fanout (one publisher, every"
            " client receives; plus idle connections), chat (acked, persisted messages in"
            " rooms), cluster (two nodes through Redis), storm (connect rate while ramping,"
            " then a server restart), idle-chat (authenticated /chat connections held idle)."
        ),
    )
    parser.add_argument("scenario", nargs="?", default="fanout", choices=list(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="small loads: check that it works")
    parser.add_argument(
        "--compare",
        "--servers",
        dest="compare",
        metavar="LABELS",
        help=(
            "columns to start from a source checkout: node, baatcheet, baatcheet-normal"
            " (chat), baatcheet-dynamic (cluster); default per scenario"
        ),
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="LABEL=URL[,URL]",
        help="measure a running server (several URLs: cluster nodes); repeat for columns",
    )
    parser.add_argument(
        "--server-pid",
        action="append",
        default=[],
        metavar="LABEL=PID[,PID]",
        help="the target's process ids, for its CPU and memory figures (same machine only)",
    )
    parser.add_argument("--generators", type=int, help="generator processes (idle, storm)")
    parser.add_argument("--clients", type=int, help="override the scenario's client count")
    parser.add_argument("--secs", type=float, help="shorten fixed phases, steps and holds")
    parser.add_argument(
        "--fixed-rate",
        type=int,
        help="load of the fixed phase: deliveries/s (fanout, cluster) or messages/s (chat)",
    )
    parser.add_argument("--quiet-secs", type=float, default=15.0)
    parser.add_argument("--receipts", action="store_true", help="chat: answer receipt:read")
    parser.add_argument("--out", type=Path, help="results folder (default bench/results)")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin servers and generators to cores"
    )
    return parser


def _pairs(values: list[str], what: str) -> dict[str, list[str]]:
    pairs: dict[str, list[str]] = {}
    for value in values:
        label, sep, rest = value.partition("=")
        if not sep or not label or not rest:
            raise ValueError(f"{what} must be LABEL=VALUE[,VALUE], not {value!r}")
        pairs[label] = [item for item in rest.split(",") if item]
    return pairs


def _options(args: argparse.Namespace) -> RunOptions:
    if args.target and args.compare:
        raise ValueError("use either --target or --compare, not both")
    plan = scenario(args.scenario, args.quick, args.secs)
    targets: dict[str, Target] = {}
    pids = {k: [int(p) for p in v] for k, v in _pairs(args.server_pid, "--server-pid").items()}
    for label, urls in _pairs(args.target, "--target").items():
        targets[label] = Target(label, tuple(urls), tuple(pids.get(label, ())))
    unknown = set(pids) - set(targets)
    if unknown:
        raise ValueError(f"--server-pid names no --target: {', '.join(sorted(unknown))}")
    labels = list(targets) or (args.compare.split(",") if args.compare else list(plan.servers))
    if args.out is not None:
        out = args.out
    elif targets:
        try:
            out = bench_dir() / "results"
        except BenchError:
            out = Path("bench-results")
    else:
        out = bench_dir() / "results"
    return RunOptions(
        scenario=plan,
        labels=labels,
        out_dir=out,
        targets=targets,
        generators=args.generators,
        quiet_secs=args.quiet_secs,
        receipts=args.receipts,
        clients=args.clients,
        fixed_rate=args.fixed_rate,
        pin=not args.no_pin,
        plots=not args.no_plots,
        quick=args.quick,
    )


def main(argv: Sequence[str] | None = None, prog: str = "baatcheet bench") -> int:
    """Runs ``baatcheet bench``; returns the exit status."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        options = _options(args)
    except ValueError as exc:
        parser.error(str(exc))
    except BenchError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    try:
        run(options)
    except BenchError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    return 0
