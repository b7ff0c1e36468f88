"""The admin UI's credentials and session ids."""

from __future__ import annotations

import bcrypt
import pytest

from baatcheet.admin.auth import AdminAuth, SessionStore
from baatcheet.errors import ConfigurationError

HASH = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()


def test_a_hash_that_is_not_bcrypt_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigurationError, match="bcrypt"):
        AdminAuth("admin", "plain-text", SessionStore())


def test_only_the_right_username_and_password_pass() -> None:
    auth = AdminAuth("admin", HASH, SessionStore())
    assert auth.check({"username": "admin", "password": "pw"})
    assert not auth.check({"username": "admin", "password": "nope"})
    assert not auth.check({"username": "root", "password": "pw"})
    assert not auth.check({"username": "admin", "password": 42})
    assert not auth.check({})


def test_a_2a_hash_from_bcryptjs_is_accepted() -> None:
    auth = AdminAuth("admin", "$2a$" + HASH[4:], SessionStore())
    assert auth.check({"username": "admin", "password": "pw"})


def test_session_ids_are_sixteen_hex_characters_and_expire() -> None:
    store = SessionStore(ttl=0.0)
    session_id = store.create()
    assert len(session_id) == 16 and int(session_id, 16) >= 0
    assert session_id not in store
    lasting = SessionStore()
    assert lasting.create() in lasting
    assert "unknown" not in lasting and None not in lasting
