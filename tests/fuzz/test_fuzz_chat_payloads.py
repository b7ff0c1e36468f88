"""Fuzz the JSON argument of every chat event and REST body against its payload model.

Every schema in ``baatcheet.chat.payloads`` is found by introspection, so a new event's
model is fuzzed without touching this file. Inputs are near-valid: the model's own field
names with values drawn around the limits (ids at 0, 1, 2**62, 2**62+1; strings empty, at
and past their lengths; enum words; lone surrogates and NUL), keys missing or extra, or no
object at all. The oracle: ``parse`` returns an instance of the model or raises
``EventError("invalid", ...)`` — never a pydantic, type or value error.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from baatcheet.chat import payloads
from baatcheet.errors import EventError
from support.fuzzing import RUNS, budget, json_values, near_valid_ints, near_valid_texts

MODELS = sorted(
    (
        model
        for model in vars(payloads).values()
        if inspect.isclass(model)
        and issubclass(model, BaseModel)
        and model.__module__ == payloads.__name__
        and not model.__name__.startswith("_")
    ),
    key=lambda model: model.__name__,
)

_UNSTORABLE = {"\x00", *map(chr, range(0xD800, 0xE000))}


def _near(annotation: Any) -> st.SearchStrategy[Any]:
    """Values of about the annotated type: the right kind, crowded at the usual limits."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _near(args[0])
    if origin is Literal:
        return st.sampled_from(args) | near_valid_texts
    if origin in (Union, UnionType):
        return st.one_of([_near(arg) for arg in args])
    if origin is list:
        return st.lists(_near(args[0]), max_size=4)
    near: dict[Any, st.SearchStrategy[Any]] = {
        int: near_valid_ints,
        str: near_valid_texts,
        bool: st.booleans(),
        type(None): st.none(),
    }
    return near.get(annotation, json_values)


def _arguments(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """Objects shaped like ``model``'s payload (its keys, near-valid values), or not objects."""
    near = {name: _near(field.annotation) for name, field in model.model_fields.items()}
    anything = {name: json_values for name in near}
    return st.one_of(
        st.fixed_dictionaries(near, optional={"extra": json_values}),  # every key, near values
        st.fixed_dictionaries({}, optional=near | {"extra": json_values}),  # keys missing
        st.fixed_dictionaries({}, optional=anything),  # any JSON in the right keys
        json_values,  # not even an object
    )


def test_every_payload_model_is_fuzzed() -> None:
    assert len(MODELS) >= 8, [model.__name__ for model in MODELS]


def _fuzz_target(model: type[BaseModel]) -> Callable[[], None]:
    """One Hypothesis test per model, so each gets the whole per-target budget."""

    @budget(0.5)
    @given(_arguments(model))
    def test(argument: Any) -> None:
        RUNS[f"chat.parse {model.__name__}"] += 1
        try:
            parsed = payloads.parse(model, argument)  # type: ignore[type-var]
        except EventError as refusal:
            assert refusal.code == "invalid"
            assert isinstance(refusal.message, str) and refusal.message
            return
        assert isinstance(parsed, model)
        assert type(model.model_validate(parsed.model_dump())) is model
        if hasattr(payloads, "clean_text"):  # nothing past the boundary sees NUL or a surrogate
            for value in _strings(parsed.model_dump()):
                assert not _UNSTORABLE.intersection(value), f"{model.__name__} let {value!r} in"

    test.__name__ = f"test_{model.__name__}_parses_or_is_refused_as_invalid"
    test.__qualname__ = test.__name__
    return test


# A test function per model, made here so a new model is fuzzed without editing this file.
for _model in MODELS:
    _test = _fuzz_target(_model)
    globals()[_test.__name__] = _test


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []
