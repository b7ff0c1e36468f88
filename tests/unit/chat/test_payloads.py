"""Client payload validation: precise ``invalid`` errors naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from baatcheet.chat.payloads import HistoryFetch, MessageSend, RoomCreate, parse
from baatcheet.errors import EventError


def test_a_valid_message_parses_and_ignores_unknown_keys() -> None:
    parsed = parse(MessageSend, {"roomId": 3, "body": "hi", "clientId": "c", "extra": 1})
    assert (parsed.roomId, parsed.body, parsed.clientId) == (3, "hi", "c")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"roomId": "3", "body": "hi", "clientId": "c"}, "roomId"),
        ({"roomId": True, "body": "hi", "clientId": "c"}, "roomId"),
        ({"roomId": 0, "body": "hi", "clientId": "c"}, "roomId"),
        ({"roomId": 3, "body": 5, "clientId": "c"}, "body"),
        ({"roomId": 3, "body": "hi", "clientId": ""}, "clientId"),
    ],
)
def test_a_wrong_field_is_named_in_the_error(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(EventError) as caught:
        parse(MessageSend, payload)
    assert caught.value.code == "invalid"
    assert caught.value.message.startswith(field)


@pytest.mark.parametrize("payload", [[1, 2], "text", 7])
def test_a_payload_that_is_not_an_object_is_invalid(payload: Any) -> None:
    with pytest.raises(EventError, match="payload must be an object"):
        parse(MessageSend, payload)


def test_history_defaults_to_fifty_and_caps_at_a_hundred() -> None:
    assert parse(HistoryFetch, {"roomId": 1}).limit == 50
    with pytest.raises(EventError, match="limit"):
        parse(HistoryFetch, {"roomId": 1, "limit": 101})


def test_a_room_cannot_be_created_as_direct() -> None:
    with pytest.raises(EventError, match="kind"):
        parse(RoomCreate, {"name": "x", "kind": "direct"})
