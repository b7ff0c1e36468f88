"""The name key and the prefix range that room searches scan."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from baatcheet.store.room_listing import name_key, prefix_bounds

# What can be stored: any code point but the surrogates (the chat replaces those).
_stored_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)


def test_the_range_of_a_prefix_ends_just_above_its_last_character() -> None:
    assert prefix_bounds("Ab") == ("ab", "ac")
    assert prefix_bounds("") == ("", None)


def test_the_range_end_skips_the_surrogates_and_carries_past_the_last_code_point() -> None:
    assert prefix_bounds("a\ud7ff") == ("a\ud7ff", "a\ue000")
    assert prefix_bounds("a\U0010ffff") == ("a\U0010ffff", "b")
    assert prefix_bounds("\U0010ffff") == ("\U0010ffff", None)


@given(_stored_text, _stored_text)
def test_a_key_is_in_the_range_exactly_when_the_folded_name_starts_with_the_folded_prefix(
    prefix: str, tail: str
) -> None:
    low, high = prefix_bounds(prefix)
    for name in (tail, prefix + tail, prefix.upper() + tail):
        key = name_key(name)
        in_range = low <= key and (high is None or key < high)
        assert in_range == key.startswith(name_key(prefix)), name
