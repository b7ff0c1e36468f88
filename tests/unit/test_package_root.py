"""``import baatcheet`` gives the public names, documented, loaded only when used."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import pytest

import baatcheet


@pytest.mark.parametrize("name", baatcheet.__all__)
def test_every_exported_name_imports_and_says_what_it_is(name: str) -> None:
    exported = getattr(baatcheet, name)
    assert (exported.__doc__ or "").strip(), f"baatcheet.{name} has no docstring"


def test_every_export_comes_from_a_public_module_that_defines_it() -> None:
    for name in baatcheet.__all__:
        module = getattr(baatcheet, name).__module__
        assert module.startswith("baatcheet."), (name, module)
        assert not any(part.startswith("_") for part in module.split(".")), (name, module)


def test_the_root_offers_nothing_public_beyond_its_list() -> None:
    assert baatcheet.__all__ == sorted(baatcheet.__all__)
    assert not [name for name in baatcheet.__all__ if name.startswith("_")]
    for name in baatcheet.__all__:
        getattr(baatcheet, name)  # load every export, as a program would
    public = {
        name
        for name, value in vars(baatcheet).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(baatcheet.__all__)
    assert set(baatcheet.__all__) <= set(dir(baatcheet))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        baatcheet.no_such_thing  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_root_loads_no_layer_until_a_name_is_used() -> None:
    probe = (
        "import sys, baatcheet\n"
        "loaded = lambda: sorted(m for m in sys.modules if m.startswith('baatcheet'))\n"
        "print(loaded())\n"
        "baatcheet.Server\n"
        "print('baatcheet.sio.server' in sys.modules, 'baatcheet.client' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.splitlines() == ["['baatcheet']", "True False"]
