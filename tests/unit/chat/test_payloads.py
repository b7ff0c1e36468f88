"""Client payload validation: precise ``invalid`` errors naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from baatcheet.chat.payloads import (
    HistoryFetch,
    MessageSend,
    RoomCreate,
    RoomsList,
    clean_text,
    parse,
)
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


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("plain text", "plain text"),
        ("ab\ud83d", "ab\ufffd"),
        ("\ude00tail", "\ufffdtail"),
        ("\ude00\ud83d", "\ufffd\ufffd"),
        ("\ud83d\ude00", "😀"),
        ("😀 already whole", "😀 already whole"),
        ("nul\x00here", "nul\ufffdhere"),
    ],
)
def test_text_is_cleaned_of_what_no_database_can_store(sent: str, stored: str) -> None:
    assert clean_text(sent) == stored
    stored.encode("utf-8")  # and the result is valid Unicode


def test_every_string_of_a_payload_is_cleaned_before_validation() -> None:
    parsed = parse(
        RoomCreate,
        {"name": "r\ud800", "kind": "private", "members": ["bob"], "extra\udfff": "x\udfff"},
    )
    assert parsed.name == "r\ufffd"
    message = parse(MessageSend, {"roomId": 1, "body": "\ud83d", "clientId": "c\ud83d"})
    assert (message.body, message.clientId) == ("\ufffd", "c\ufffd")


def test_a_lone_surrogate_cannot_sneak_into_a_username() -> None:
    with pytest.raises(EventError, match=r"^members\.0"):
        parse(RoomCreate, {"name": "r", "kind": "private", "members": ["bob\ud83d"]})


def test_rooms_list_defaults_to_my_rooms_and_bounds_what_a_client_may_ask() -> None:
    listing = parse(RoomsList, {})
    assert (listing.scope, listing.query, listing.cursor, listing.limit) == (
        "joined",
        "",
        None,
        None,
    )
    assert parse(RoomsList, {"query": "  dev  "}).query == "dev"
    for bad in ({"scope": "all"}, {"limit": 0}, {"query": "x" * 101}, {"cursor": ""}):
        with pytest.raises(EventError) as caught:
            parse(RoomsList, bad)
        assert caught.value.message.startswith(next(iter(bad))), bad
