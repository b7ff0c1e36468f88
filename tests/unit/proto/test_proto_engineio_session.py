"""The Engine.IO server session as a state machine: packets and time in, decisions out."""

from __future__ import annotations

import pytest

from baatcheet.errors import ProtocolError
from baatcheet.proto.engineio import EnginePacket, EnginePacketType, encode_ws
from baatcheet.proto.engineio_session import (
    CLOSE,
    NOOP,
    PONG,
    PROBE_PING,
    PROBE_PONG,
    UPGRADE,
    CloseReason,
    Probe,
    ProbeStep,
    ServerSession,
    Tick,
    TransportName,
)

HANDSHAKE = '{"sid":"abc"}'


def opened(
    transport: TransportName = TransportName.POLLING, at: float = 100.0
) -> tuple[ServerSession, str]:
    session = ServerSession(
        ping_interval=25.0, ping_timeout=20.0, upgrade_timeout=10.0, transport=transport
    )
    return session, session.open(HANDSHAKE, at)


def test_the_named_packets_encode_as_the_spec_spells_them() -> None:
    assert [encode_ws(p) for p in (PROBE_PING, PROBE_PONG, UPGRADE, NOOP, CLOSE, PONG)] == [
        "2probe",
        "3probe",
        "5",
        "6",
        "1",
        "3",
    ]


def test_the_handshake_sends_open_and_the_first_ping_is_due_one_interval_later() -> None:
    session, packet = opened(at=100.0)
    assert packet == "0" + HANDSHAKE
    assert session.deadline == 125.0
    assert session.tick(124.0) is Tick.NOTHING
    assert session.tick(125.0) is Tick.SEND_PING
    assert session.deadline == 145.0


def test_a_ping_left_unanswered_times_the_session_out() -> None:
    session, _ = opened(at=0.0)
    assert session.tick(25.0) is Tick.SEND_PING
    assert session.tick(44.9) is Tick.NOTHING
    assert session.tick(45.0) is Tick.PING_TIMEOUT


def test_a_pong_in_time_keeps_the_session_and_the_ping_cadence() -> None:
    session, _ = opened(at=0.0)
    session.tick(25.0)
    assert session.receive(PONG, 30.0) is None
    assert session.deadline == 50.0
    assert session.tick(45.0) is Tick.NOTHING
    assert session.tick(50.0) is Tick.SEND_PING


def test_client_close_ends_the_session_and_packets_a_client_never_sends_are_refused() -> None:
    session, _ = opened()
    assert session.receive(EnginePacket(EnginePacketType.MESSAGE, "hi"), 1.0) is None
    assert session.receive(NOOP, 1.0) is None
    assert session.receive(CLOSE, 1.0) is CloseReason.TRANSPORT_CLOSE
    with pytest.raises(ProtocolError, match="OPEN"):
        session.receive(EnginePacket(EnginePacketType.OPEN), 1.0)
    with pytest.raises(ProtocolError, match="PING"):
        session.receive(EnginePacket(EnginePacketType.PING), 1.0)


def test_polling_queue_counts_characters_and_empties_into_one_payload() -> None:
    session, packet = opened()
    session.enqueue((packet,))
    session.enqueue(["4hello", "bAAE="])
    assert session.queued_chars == len(packet) + 6 + 5
    assert session.take_payload() == f"{packet}\x1e4hello\x1ebAAE="
    assert session.queued_chars == 0
    assert not session.queued


def test_a_ping_on_polling_waits_in_the_queue() -> None:
    session, _ = opened(at=0.0)
    assert session.tick(25.0) is Tick.SEND_PING
    session.enqueue_ping()
    assert session.take_payload() == "2"


def test_probe_then_upgrade_releases_the_poll_with_noop_and_forwards_the_backlog() -> None:
    session, _ = opened(at=0.0)
    assert session.begin_probe(1.0)
    session.enqueue(["4queued"])
    assert session.probe_receive("2probe") is ProbeStep.ANSWER
    # The NOOP ends the GET in flight so the client can pause polling.
    assert session.take_payload() == "4queued\x1e6"
    session.enqueue(["4late"])
    session.poll_arrived()
    assert session.probe_receive("5") is ProbeStep.UPGRADE
    assert session.take_upgrade_backlog() == ["4late"]
    assert session.transport is TransportName.WEBSOCKET
    assert session.probe is Probe.NONE


def test_a_poll_arriving_during_a_confirmed_upgrade_is_released_at_once() -> None:
    session, _ = opened()
    session.begin_probe(1.0)
    session.probe_receive("2probe")
    session.take_payload()
    session.poll_arrived()
    assert session.take_payload() == "6"
    session.enqueue(["4msg"])
    session.poll_arrived()
    assert session.take_payload() == "4msg"


def test_a_websocket_session_or_a_second_probe_cannot_upgrade() -> None:
    on_ws, _ = opened(TransportName.WEBSOCKET)
    assert not on_ws.begin_probe(1.0)
    polling, _ = opened()
    assert polling.begin_probe(1.0)
    assert not polling.begin_probe(1.5)


def test_a_probe_that_never_completes_is_abandoned_after_the_upgrade_timeout() -> None:
    session, _ = opened(at=0.0)
    session.begin_probe(1.0)
    assert session.deadline == 11.0
    assert session.tick(11.0) is Tick.ABANDON_PROBE
    assert session.transport is TransportName.POLLING
    assert session.deadline == 25.0
    assert session.begin_probe(12.0)


def test_a_probe_that_sends_anything_else_is_abandoned() -> None:
    session, _ = opened()
    session.begin_probe(1.0)
    assert session.probe_receive("4hello") is ProbeStep.ABANDON
    assert session.probe is Probe.NONE
    assert session.begin_probe(2.0)


def test_forced_close_on_polling_queues_close_and_ping_timeout_tells_nothing() -> None:
    forced, _ = opened()
    assert forced.close(CloseReason.FORCED_CLOSE, poll_held=True)
    assert forced.closed
    assert forced.take_payload() == "1"
    timed_out, _ = opened()
    assert not timed_out.close(CloseReason.PING_TIMEOUT, poll_held=False)
    assert not timed_out.queued
    assert timed_out.deadline == float("inf")


def test_a_session_is_closed_once() -> None:
    session, _ = opened()
    assert session.close(CloseReason.RATE_LIMITED, poll_held=True)
    session.take_payload()
    assert not session.close(CloseReason.FORCED_CLOSE, poll_held=True)
    assert not session.queued


def test_shutdown_between_two_polls_delivers_the_queue_then_the_close() -> None:
    session, _ = opened()
    session.enqueue(["4last words"])
    assert not session.close(CloseReason.SERVER_SHUTDOWN, poll_held=False)
    assert session.farewell
    assert session.farewell_poll() == ("4last words", False)
    assert session.farewell_poll() == ("1", True)
    assert not session.farewell


def test_a_held_poll_hears_noop_after_a_client_close_and_close_otherwise() -> None:
    session, _ = opened()
    assert session.final_poll_answer(CloseReason.TRANSPORT_CLOSE) == "6"
    session.enqueue(["4x"])
    assert session.final_poll_answer(CloseReason.PING_TIMEOUT) == "4x\x1e1"


def test_websocket_close_codes_follow_the_reason() -> None:
    code = ServerSession.websocket_close_code
    assert code(CloseReason.PAYLOAD_TOO_LARGE) == 1009
    assert code(CloseReason.PARSE_ERROR) == 1008
    assert code(CloseReason.SERVER_SHUTDOWN) == 1001
    assert code(CloseReason.TRANSPORT_CLOSE) == 1000


def test_a_closed_session_has_no_deadline_and_ticks_do_nothing() -> None:
    session, _ = opened(at=0.0)
    session.end()
    assert session.deadline == float("inf")
    assert session.tick(1000.0) is Tick.NOTHING


def test_timings_must_be_positive() -> None:
    with pytest.raises(ValueError, match="upgrade_timeout"):
        ServerSession(1.0, 1.0, 0.0, TransportName.POLLING)
    with pytest.raises(ValueError, match="ping_interval"):
        ServerSession(0.0, 1.0, 1.0, TransportName.POLLING)
