"""Shared pieces of the fuzz targets in ``tests/fuzz/``: budget, counters, JSON strategies.

Every target is an ordinary Hypothesis test, so CI runs each with a small budget and
``scripts/fuzz`` runs the same tests with a large one. ``BAATCHEET_FUZZ_EXAMPLES`` sets the
examples per target (default :data:`CI_EXAMPLES`); each target also counts the inputs it
really ran (including the ones Hypothesis replays while shrinking) in :data:`RUNS`, which
``tests/fuzz/conftest.py`` prints at the end of the session.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from baatcheet.proto.socketio import RESERVED_EVENTS, Packet, PacketType, encode

__all__ = [
    "CI_EXAMPLES",
    "RUNS",
    "budget",
    "damaged_socketio_messages",
    "json_values",
    "near_valid_ints",
    "near_valid_texts",
    "socketio_packets",
    "wire_texts",
]

CI_EXAMPLES = 250
"""Examples per target when ``BAATCHEET_FUZZ_EXAMPLES`` is unset: a few seconds each."""

RUNS: Counter[str] = Counter()
"""Inputs run per target name in this process."""


def budget(share: float = 1.0) -> settings:
    """Hypothesis settings for one target: ``share`` of the per-target example budget.

    ``share`` lets a slow target (a whole HTTP exchange) take fewer examples than a parser.
    """
    examples = int(os.environ.get("BAATCHEET_FUZZ_EXAMPLES", CI_EXAMPLES))
    return settings(
        max_examples=max(1, int(examples * share)),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
        print_blob=True,
    )


# Text as peers really send it: any code point, lone UTF-16 surrogates included (a JavaScript
# string may hold one and JSON carries it as a \\ud800 escape), with a bias towards the
# characters parsers give meaning to.
_SPECIAL = st.sampled_from(
    ["", "\x00", "\x1e", "\ud800", "\udfff", "\ufeff", "\u2028", "/", ",", "-", '"', "\\", "\n"]
)
wire_texts = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.lists(_SPECIAL | st.text(max_size=4), max_size=8).map("".join),
)

near_valid_ints = st.one_of(
    st.sampled_from(
        [0, 1, 2, -1, 100, 101, 255, 256, 2**31, 2**53 - 1, 2**53, 2**62, 2**62 + 1, 2**63 - 1]
    ),
    st.sampled_from([-(2**63), 2**63, 2**64 - 1]),
    st.integers(min_value=-2, max_value=600),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
)
"""Integers a JSON peer can send (orjson's range), crowded at the usual limits."""

near_valid_texts = st.one_of(
    wire_texts,
    st.from_regex(r"[A-Za-z0-9_.-]{1,40}", fullmatch=True),
    st.integers(min_value=0, max_value=300).map(lambda n: "a" * n),
    st.integers(min_value=0, max_value=5000).map(lambda n: "a" * n),
    st.sampled_from(["public", "private", "direct", "joined", "", " ", "  x  "]),
)
"""Strings near what the schemas accept: identifiers, lengths around the limits, enum words."""

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    near_valid_ints,
    st.floats(allow_nan=False, allow_infinity=False),
    near_valid_texts,
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=5) | st.dictionaries(near_valid_texts, inner, max_size=5)


json_values: st.SearchStrategy[Any] = st.recursive(_scalars, _containers, max_leaves=12)
"""Any value ``orjson.loads`` can return, shaped like what peers send."""


# -- Socket.IO packets, valid and damaged ---------------------------------------------

_with_binary: st.SearchStrategy[Any] = st.recursive(
    json_values | st.binary(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(wire_texts, inner, max_size=4),
    max_leaves=10,
)
_namespaces = st.sampled_from(["/", "/chat", "/room-1", "/a/b"]) | wire_texts.map(
    lambda text: "/" + text.replace(",", "")
)
_events = (wire_texts | st.sampled_from(["message:send", "echo"])).filter(
    lambda name: name not in RESERVED_EVENTS
)
_ack_ids = st.none() | st.integers(min_value=0, max_value=2**53 - 1)

socketio_packets = st.one_of(
    st.builds(
        Packet,
        st.just(PacketType.EVENT),
        _namespaces,
        st.tuples(_events, st.lists(_with_binary, max_size=4)).map(lambda p: [p[0], *p[1]]),
        _ack_ids,
    ),
    st.builds(
        Packet,
        st.just(PacketType.ACK),
        _namespaces,
        st.lists(_with_binary, max_size=4),
        st.integers(min_value=0, max_value=2**53 - 1),
    ),
    st.builds(
        Packet,
        st.just(PacketType.CONNECT),
        _namespaces,
        st.none() | st.dictionaries(wire_texts, json_values, max_size=4),
    ),
    st.builds(Packet, st.just(PacketType.DISCONNECT), _namespaces),
    st.builds(
        Packet,
        st.just(PacketType.CONNECT_ERROR),
        _namespaces,
        st.fixed_dictionaries({"message": wire_texts}, optional={"data": json_values}),
    ),
)

_fragments = st.sampled_from(
    [
        *"0123456",
        "1-",
        "3-",
        "0-",
        "999999-",
        "/",
        ",",
        "[",
        "]",
        "{",
        "}",
        '"',
        "null",
        '{"_placeholder":true,"num":0}',
        '{"_placeholder":true,"num":1}',
        '{"_placeholder":true,"num":-1}',
        '{"_placeholder":true,"num":"0"}',
        '{"_placeholder":false}',
        '["disconnect"]',
        "9" * 17,
        "\ud800",
    ]
)


@st.composite
def damaged_socketio_messages(draw: st.DrawFn) -> list[str | bytes]:
    """The messages of one encoded packet, then damaged a few ways."""
    messages: list[str | bytes] = list(encode(draw(socketio_packets)))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        index = draw(st.integers(min_value=0, max_value=len(messages)))
        kind = draw(
            st.sampled_from(["splice", "cut", "count", "placeholder", "drop", "extra", "swap"])
        )
        if index == len(messages) or kind == "extra":
            messages.insert(index, draw(st.binary(max_size=8) | wire_texts | _fragments))
        elif kind == "drop":
            del messages[index]
        elif kind == "swap" and len(messages) > 1:
            other = draw(st.integers(min_value=0, max_value=len(messages) - 1))
            messages[index], messages[other] = messages[other], messages[index]
        elif isinstance(messages[index], str):
            text = str(messages[index])
            cut = draw(st.integers(min_value=0, max_value=len(text)))
            if kind == "cut":
                text = text[:cut]
            elif kind == "count":
                text = re.sub(r"^(\d)\d*-", lambda m: m[1] + draw(_fragments), text, count=1)
            elif kind == "placeholder":
                text = text.replace('"num":', '"num":' + draw(_fragments), 1)
            else:
                gone = draw(st.integers(min_value=0, max_value=3))
                text = text[:cut] + draw(_fragments | wire_texts) + text[cut + gone :]
            messages[index] = text
    return messages
