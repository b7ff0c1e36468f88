"""What each ``baatcheet bench`` scenario runs: its phases, their loads, and their columns.

A phase is one fresh server (or cluster) and one load: either one generator process
(fan-out, chat, rooms: their pacing and their "did this step keep up?" decisions need one
clock), or several sharing the clients (idle and storm: 19,900 connections do not fit in one
process's 20,000 open files, and a storm's connect rate is bounded by one event loop).
The full loads are the published figures; ``--quick`` ones check that everything works.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = [
    "SCENARIOS",
    "App",
    "Driver",
    "Phase",
    "Scenario",
    "scenario",
]

CLIENTS_PER_GENERATOR = 9_000
"""At most this many connections per generator process (each one an open file)."""


class App(StrEnum):
    """The server program a phase needs, started per column by :mod:`.servers`."""

    FANOUT = "fanout"
    CHAT = "chat"
    CLUSTER = "cluster"


class Driver(StrEnum):
    """How the runner drives the phase's generators."""

    SINGLE = "single"  # one generator from start to end; its JSON is the result
    IDLE = "idle"  # connect, hold while the runner measures the server, stop
    STORM = "storm"  # ramp, then the runner kills and restarts the server


@dataclass(frozen=True)
class Phase:
    """One measured phase of a scenario.

    Attributes:
        name: Key of the phase in the results (and the table's rows).
        loadgen: The loadgen.js scenario.
        app: The server program it needs.
        driver: How the generators are driven.
        args: Further loadgen.js arguments.
        nodes: Server processes (a cluster when > 1).
        clients: Connections in all (IDLE and STORM drivers), dealt to the generators.
        restart_clients: STORM: connections kept through the server restart.
        hold_secs: IDLE: how long the connections are held idle while CPU is measured.
        nsp: IDLE: namespace to connect to.
        users: IDLE on ``/chat``: accounts registered before the connections share them.
        generators: Generator processes; 0 means one per CLIENTS_PER_GENERATOR clients.
    """

    name: str
    loadgen: str
    app: App
    driver: Driver = Driver.SINGLE
    args: tuple[str, ...] = ()
    nodes: int = 1
    clients: int = 0
    restart_clients: int = 0
    hold_secs: float = 0.0
    nsp: str = "/"
    users: int = 0
    generators: int = 0

    def generator_count(self, requested: int | None) -> int:
        """How many generator processes run it: ``requested`` if given, never too few."""
        if self.driver is Driver.SINGLE:
            return 1
        needed = max(1, math.ceil(self.clients / CLIENTS_PER_GENERATOR))
        wanted = requested or self.generators or needed
        return max(wanted, needed)


@dataclass(frozen=True)
class Scenario:
    """A named list of phases, the default columns, and the phase the plots show."""

    name: str
    phases: tuple[Phase, ...]
    servers: tuple[str, ...]
    plotted: str


def _fanout(quick: bool) -> Scenario:
    fan: tuple[str, ...]
    idle: Phase
    if quick:
        fan = ("--fixed-secs", "3", "--warmup-secs", "1", "--step-secs", "2")
        fan += ("--ramp", "20000,50000,100000")
        idle = Phase("idle", "idle", App.FANOUT, Driver.IDLE, clients=1000, hold_secs=5)
    else:
        fan = ("--fixed-rate", "50000", "--fixed-secs", "10", "--warmup-secs", "2")
        fan += ("--step-secs", "4", "--ramp", "20000,40000,60000,80000,100000,120000,150000,200000")
        idle = Phase("idle", "idle", App.FANOUT, Driver.IDLE, clients=19_900, hold_secs=60)
    return Scenario(
        "fanout",
        (idle, Phase("fanout", "fanout", App.FANOUT, args=fan)),
        ("node", "baatcheet"),
        "fanout",
    )


def _chat(quick: bool) -> Scenario:
    args: tuple[str, ...]
    if quick:
        args = ("--rooms", "20", "--users", "40", "--fixed-rate", "500", "--fixed-secs", "3")
        args += ("--warmup-secs", "1", "--step-secs", "2", "--ramp", "500,1000,2000")
    else:
        args = ("--rooms", "100", "--users", "100", "--fixed-rate", "2000", "--fixed-secs", "10")
        args += ("--warmup-secs", "2", "--step-secs", "4")
        args += ("--ramp", "1000,2000,3000,4000,6000,8000,10000,12000,14000,16000,20000")
    return Scenario(
        "chat",
        (Phase("chat", "chat", App.CHAT, args=args),),
        ("node", "baatcheet", "baatcheet-normal"),
        "chat",
    )


def _cluster(quick: bool) -> Scenario:
    fan: tuple[str, ...]
    short: tuple[str, ...]
    if quick:
        fan = ("--fixed-secs", "3", "--warmup-secs", "1", "--step-secs", "2")
        fan += ("--ramp", "20000,50000,100000")
        short = ("--fixed-secs", "3", "--warmup-secs", "1")
    else:
        fan = ("--fixed-rate", "50000", "--fixed-secs", "10", "--warmup-secs", "2")
        fan += ("--step-secs", "4", "--ramp", "20000,40000,60000,80000,100000,120000,150000,200000")
        short = ("--fixed-secs", "10", "--warmup-secs", "2")
    cluster = App.CLUSTER
    phases = (
        # The fan-out of the fanout scenario, its 1000 clients dealt to two nodes.
        Phase("cluster", "fanout", cluster, args=fan, nodes=2),
        # The CPU of a broadcast: 500 recipients on one node alone, then one recipient,
        # alone and in a cluster, at 1,000 publishes/s.
        Phase(
            "local",
            "fanout",
            cluster,
            nodes=1,
            args=("--clients", "500", "--fixed-rate", "25000", "--ramp", "none", *short),
        ),
        Phase(
            "cost-local",
            "fanout",
            cluster,
            nodes=1,
            args=("--clients", "1", "--fixed-rate", "1000", "--ramp", "none", *short),
        ),
        Phase(
            "cost-cluster",
            "fanout",
            cluster,
            nodes=2,
            args=("--clients", "2", "--fixed-rate", "2000", "--ramp", "none", *short),
        ),
        # 100 rooms x 10 clients, each room on one node, 1,000 room broadcasts/s in all.
        Phase(
            "rooms",
            "rooms",
            cluster,
            nodes=2,
            args=(
                "--rooms",
                "100",
                "--per-room",
                "10",
                "--placement",
                "split",
                "--publish-rate",
                "1000",
                "--idle-clients",
                "1",
                *short,
            ),
        ),
        # One busy room of 10 on the first node; the second has 10 clients in no room.
        Phase(
            "quiet",
            "rooms",
            cluster,
            nodes=2,
            args=(
                "--rooms",
                "1",
                "--per-room",
                "10",
                "--placement",
                "first",
                "--publish-rate",
                "2000",
                "--idle-clients",
                "10",
                *short,
            ),
        ),
    )
    return Scenario("cluster", phases, ("node", "baatcheet", "baatcheet-dynamic"), "cluster")


def _storm(quick: bool) -> Scenario:
    clients, kept = (1000, 500) if quick else (19_900, 10_000)
    phase = Phase(
        "storm",
        "storm",
        App.FANOUT,
        Driver.STORM,
        clients=clients,
        restart_clients=kept,
        args=("--concurrency", "100", "--rejoin-secs", "60" if quick else "180"),
    )
    return Scenario("storm", (phase,), ("node", "baatcheet"), "storm")


def _idle_chat(quick: bool) -> Scenario:
    clients, users, hold = (500, 10, 5.0) if quick else (19_900, 100, 60.0)
    phase = Phase(
        "idle-chat",
        "idle",
        App.CHAT,
        Driver.IDLE,
        clients=clients,
        hold_secs=hold,
        nsp="/chat",
        users=users,
    )
    return Scenario("idle-chat", (phase,), ("node", "baatcheet"), "idle-chat")


SCENARIOS = {
    "fanout": _fanout,
    "chat": _chat,
    "cluster": _cluster,
    "storm": _storm,
    "idle-chat": _idle_chat,
}


def scenario(name: str, quick: bool = False, secs: float | None = None) -> Scenario:
    """The scenario ``name``; ``secs`` shortens every fixed phase and hold to that many seconds.

    Raises:
        ValueError: ``name`` is not a scenario.
    """
    try:
        plan = SCENARIOS[name](quick)
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}") from None
    if secs is None:
        return plan
    return replace(plan, phases=tuple(_shortened(phase, secs) for phase in plan.phases))


def _shortened(phase: Phase, secs: float) -> Phase:
    args = list(phase.args)
    for flag in ("--fixed-secs", "--step-secs", "--warmup-secs"):
        if flag in args:
            args[args.index(flag) + 1] = f"{secs:g}"
    hold = min(phase.hold_secs, secs) if phase.hold_secs else 0.0
    return replace(phase, args=tuple(args), hold_secs=hold)
