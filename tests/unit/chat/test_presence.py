"""The presence contract, which the memory and the Redis implementations both keep."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from baatcheet.chat.presence import Presence
from baatcheet.chat.presence_memory import MemoryPresence
from baatcheet.chat.presence_redis import RedisPresence
from baatcheet.store import User
from support.presencekit import Recorder, off, on

ADA, BOB = User(1, "ada"), User(2, "bob")


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def presence(request: pytest.FixtureRequest) -> AsyncIterator[Presence]:
    implementation: Presence
    if request.param == "memory":
        implementation = MemoryPresence()
    else:
        url = request.getfixturevalue("redis_url")
        client = Redis.from_url(url, decode_responses=True)
        implementation = RedisPresence(client, prefix=f"unit-{secrets.token_hex(4)}", ttl_s=30)
    await implementation.start(Recorder())
    yield implementation
    await implementation.close()


async def test_the_first_socket_brings_a_user_online_in_their_rooms_and_the_last_takes_them_off(
    presence: Presence,
) -> None:
    assert await presence.connect(ADA, [10, 11]) == [on(10, ADA), on(11, ADA)]
    assert await presence.connect(ADA, [10, 11]) == []
    assert await presence.disconnect(ADA) == []
    assert await presence.online(10) == [ADA]
    assert set(await presence.disconnect(ADA)) == {off(10, ADA), off(11, ADA)}
    assert await presence.online(10) == []


async def test_online_lists_users_by_id_per_room(presence: Presence) -> None:
    await presence.connect(BOB, [10, 11])
    await presence.connect(ADA, [10])
    assert await presence.online(10) == [ADA, BOB]
    assert await presence.online(11) == [BOB]
    assert await presence.online(12) == []


async def test_joining_shows_a_connected_user_once_and_leaving_hides_them(
    presence: Presence,
) -> None:
    await presence.connect(ADA, [])
    assert await presence.join(10, ADA) == [on(10, ADA)]
    assert await presence.join(10, ADA) == []
    assert await presence.leave(10, ADA) == [off(10, ADA)]
    assert await presence.leave(10, ADA) == []
    assert await presence.online(10) == []


async def test_a_user_with_no_socket_is_not_shown_when_they_join(presence: Presence) -> None:
    assert await presence.join(10, BOB) == []
    assert await presence.online(10) == []


async def test_a_room_joined_after_connecting_goes_offline_with_the_last_socket(
    presence: Presence,
) -> None:
    await presence.connect(ADA, [10])
    await presence.join(11, ADA)
    assert set(await presence.disconnect(ADA)) == {off(10, ADA), off(11, ADA)}
    assert await presence.online(11) == []


async def test_a_disconnect_without_a_socket_changes_nothing(presence: Presence) -> None:
    assert await presence.disconnect(ADA) == []
