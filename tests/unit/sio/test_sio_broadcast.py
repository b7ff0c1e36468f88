"""The broadcast operator is an immutable description of a target."""

from __future__ import annotations

import dataclasses

import pytest

from baatcheet.adapters.adapter_memory import MemoryAdapter
from baatcheet.adapters.base import BroadcastFlags, BroadcastOptions
from baatcheet.sio import BroadcastOperator, Namespace


@pytest.fixture
def nsp() -> Namespace:
    return Namespace("/chat", MemoryAdapter)


def test_each_method_returns_a_new_operator_and_leaves_the_original_alone(nsp: Namespace) -> None:
    base = nsp.to("a")
    narrowed = base.to("b").except_("c").volatile.local.compress(False).timeout(2)
    assert base.options == BroadcastOptions(rooms=frozenset({"a"}))  # type: ignore[arg-type]
    assert narrowed.options == BroadcastOptions(
        rooms=frozenset({"a", "b"}),  # type: ignore[arg-type]
        except_rooms=frozenset({"c"}),  # type: ignore[arg-type]
        flags=BroadcastFlags(volatile=True, compress=False, local=True, timeout_ms=2000),
    )
    assert narrowed.ack_timeout == 2
    assert base.ack_timeout is None


def test_an_operator_cannot_be_changed_in_place(nsp: Namespace) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        nsp.to("a").is_volatile = True  # type: ignore[misc]


def test_rooms_may_be_given_one_at_a_time_or_as_any_iterable(nsp: Namespace) -> None:
    assert nsp.to(["x", "y"]).rooms == nsp.to("x").in_("y").rooms == {"x", "y"}
    assert nsp.except_(("x", "y")).except_rooms == {"x", "y"}


def test_a_namespace_wide_operator_targets_every_socket(nsp: Namespace) -> None:
    assert BroadcastOperator(nsp).options == BroadcastOptions()


@pytest.mark.parametrize("name", ["connect", "connect_error", "disconnect", "disconnecting"])
def test_reserved_event_names_are_refused_before_anything_is_sent(
    nsp: Namespace, name: str
) -> None:
    with pytest.raises(ValueError, match="reserved"):
        nsp.to("room").emit(name)


def test_an_event_name_must_be_a_string(nsp: Namespace) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        nsp.emit(42)  # type: ignore[arg-type]


def test_a_broadcast_to_an_empty_namespace_sends_nothing_and_does_not_fail(
    nsp: Namespace,
) -> None:
    nsp.to("nobody").emit("news", b"\x00", {"k": "v"})
    nsp.emit("news")


async def test_fetch_sockets_of_an_empty_room_is_empty(nsp: Namespace) -> None:
    assert await nsp.to("nobody").fetch_sockets() == []


def test_ack_ids_are_unique_within_a_namespace(nsp: Namespace) -> None:
    ids = {nsp.next_ack_id() for _ in range(100)}
    assert len(ids) == 100
