"""The import graph of ``src/baatcheet`` follows the layering of the architecture.

Layers import downward only (docs: ARCHITECTURE.md, "Layers"); upper layers are reached
through callback protocols. Any import counts, including ones under ``TYPE_CHECKING``
and inside functions: a type-only import still couples the layers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "baatcheet"
LEAVES = frozenset({"errors", "_types", "settings"})
"""Modules any layer may import."""

_TOP = frozenset({"web", "app", "cli", "demo"})
"""The composition root and what only it wires (the web layer, the demo code)."""

_PARTS = frozenset(
    path.stem
    for path in PACKAGE.iterdir()
    if (path.suffix == ".py" and path.stem != "__init__") or any(path.glob("*.py"))
)
"""Every top-level part of ``baatcheet``: modules and packages (``chat`` has no ``__init__``)."""


def _all_but(*allowed: str) -> frozenset[str]:
    """Every part except ``allowed``: for layers defined by what they may use."""
    return _PARTS - LEAVES - frozenset(allowed)


FORBIDDEN: dict[str, frozenset[str]] = {
    "proto": _TOP | {"engine", "listener", "sio", "adapters", "store", "chat", "metrics"},
    "engine": _TOP | {"listener", "sio", "adapters", "store", "chat", "metrics"},
    "listener": _TOP | {"sio", "adapters", "store", "chat", "metrics"},
    "sio": _TOP | {"store", "chat"},
    "adapters": _TOP | {"listener", "sio", "store", "chat", "metrics"},
    "store": _TOP | {"engine", "listener", "sio", "adapters", "chat", "metrics"},
    "chat": _TOP | {"engine", "listener", "metrics"},
    "metrics": _TOP | {"proto", "engine", "listener", "sio", "adapters", "store", "chat"},
    "demo": frozenset({"web", "app", "cli", "chat", "store"}),
    "client": _all_but("client", "proto"),
    "testing": _all_but("testing", "sio", "engine", "client", "proto"),
    "admin": _TOP | {"store", "chat", "client", "testing", "adapters", "listener"},
}
"""For each layer, the top-level parts of ``baatcheet`` it must never import.

``metrics`` imports no other layer: its observers fit each layer's observer protocol by
their shape, and the server hands them down. ``listener`` sits between ``sio`` and
``engine``: the server attaches to a listener, which routes the Engine.IO path to the
engine. ``client`` (the Socket.IO client) stands on the protocol core alone; ``testing``
(the in-memory test client and the pytest plugin) joins it to the server's ``sio`` and
``engine``. ``admin`` (the admin UI's instrumentation) sits on ``sio`` and reads the
metrics' counters; only the composition root wires it.
"""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, located_at: Path | None = None) -> Iterator[tuple[int, str]]:
    """Every absolute module named by an import in ``path``, relative ones resolved.

    Args:
        path: The file to read.
        located_at: Where the file sits in the package, for resolving relative
            imports; ``path`` itself by default.
    """
    where = located_at or path
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(where).split(".")
    if where.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def _part(module: str) -> str | None:
    """The top-level part of ``baatcheet`` that ``module`` belongs to, or None."""
    pieces = module.split(".")
    if pieces[0] != "baatcheet" or len(pieces) < 2:
        return None
    return pieces[1]


def _violations(layer: str) -> list[str]:
    found: list[str] = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for lineno, module in _imports(path):
            part = _part(module)
            if part is not None and part not in LEAVES and part in FORBIDDEN[layer]:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{lineno} imports {module}")
    return sorted(set(found))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_the_layer_imports_nothing_above_it(layer: str) -> None:
    assert (PACKAGE / layer).is_dir(), f"layer {layer!r} is missing from src/baatcheet"
    assert _violations(layer) == []


def test_proto_imports_only_the_shared_leaves_from_baatcheet() -> None:
    outside = [
        f"{path.name}:{lineno} imports {module}"
        for path in (PACKAGE / "proto").rglob("*.py")
        for lineno, module in _imports(path)
        if (part := _part(module)) is not None and part not in LEAVES | {"proto"}
    ]
    assert outside == []


@pytest.mark.parametrize(("tool", "users"), [("client", {"testing"}), ("testing", set())])
def test_the_server_never_imports_the_client_or_the_testing_kit(tool: str, users: set[str]) -> None:
    # The package root is no layer: it names every layer's public API for the type
    # checker and loads each name only when asked for it.
    importers = sorted(
        f"{path.relative_to(PACKAGE.parent)}:{lineno}"
        for path in PACKAGE.rglob("*.py")
        if path != PACKAGE / "__init__.py" and _part(_module_name(path)) not in {tool, *users}
        for lineno, module in _imports(path)
        if _part(module) == tool
    )
    assert importers == [], f"only {users or 'nothing'} may import baatcheet.{tool}"


def test_adapters_reach_engine_only_for_framing_and_nothing_else() -> None:
    engine_uses = {
        module.split(".")[2]
        for path in (PACKAGE / "adapters").rglob("*.py")
        for _, module in _imports(path)
        if _part(module) == "engine" and len(module.split(".")) > 2
    }
    assert engine_uses <= {"frames"}


def test_the_checker_sees_relative_and_type_checking_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "from ..sio import server\n"
        "if TYPE_CHECKING:\n"
        "    from baatcheet.chat import service\n"
        "def later() -> None:\n"
        "    import baatcheet.store.base\n"
    )
    names = {module for _, module in _imports(probe, PACKAGE / "engine" / "probe.py")}
    assert {"baatcheet.sio.server", "baatcheet.chat.service", "baatcheet.store.base"} <= names
