"""Presence bookkeeping: one announcement per user, however many sockets."""

from __future__ import annotations

from baatcheet.chat.presence import Presence
from baatcheet.store import User

ADA, BOB = User(1, "ada"), User(2, "bob")


def test_only_the_first_socket_brings_a_user_online_and_only_the_last_takes_them_off() -> None:
    presence = Presence()
    assert presence.enter(10, ADA) is True
    assert presence.enter(10, ADA) is False
    assert presence.exit(10, ADA) is False
    assert presence.online(10) == [ADA]
    assert presence.exit(10, ADA) is True
    assert presence.online(10) == []


def test_online_lists_users_by_id_per_room() -> None:
    presence = Presence()
    presence.enter(10, BOB)
    presence.enter(10, ADA)
    presence.enter(11, BOB)
    assert presence.online(10) == [ADA, BOB]
    assert presence.online(11) == [BOB]


def test_leaving_a_room_one_was_never_in_changes_nothing() -> None:
    assert Presence().exit(10, ADA) is False
