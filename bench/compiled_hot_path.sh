#!/usr/bin/env bash
# A benchmark with Baatcheet's hot path compiled by mypyc: how much CPU compiling would
# save, measured, before anyone decides to ship compiled modules.
#
#   bench/compiled_hot_path.sh [scripts/bench arguments]
#       (default: chat --compare node,baatcheet,baatcheet-normal --quiet-secs 20)
#
# It copies src/ to a temporary directory, compiles the modules below there (the working
# tree is not touched: compiled modules would shadow its .py files), then runs
# `scripts/bench` with that copy first on PYTHONPATH, so the Baatcheet columns run
# compiled and Node runs as always. Compare its ratios with the same plain
# `scripts/bench` run just before or after.
#
# Left interpreted: sio/broadcast.py (Server subclasses its BroadcastTargets, and an
# interpreted class cannot subclass a compiled one), listener/http.py (compiled, its
# parser callbacks fail on the first request), chat/payloads.py (pydantic models).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MODULES=(
  proto/socketio.py
  engine/frames.py
  engine/coalesce.py
  engine/session.py
  engine/websocket.py
  sio/client.py
  sio/socket.py
  adapters/adapter_memory.py
  store/group_commit.py
  store/store_sqlite.py
  chat/handlers.py
)

BUILD="$(mktemp -d -t baatcheet-compiled-XXXXXX)"
trap 'rm -rf "$BUILD"' EXIT
cp -r src "$BUILD/src"
find "$BUILD/src" -name __pycache__ -prune -exec rm -rf {} +
echo "compiling ${#MODULES[@]} modules with mypyc in $BUILD (about a minute)"
(
  cd "$BUILD/src"
  uv run --project "$ROOT" --with setuptools mypyc "${MODULES[@]/#/baatcheet/}" > "$BUILD/mypyc.log" 2>&1
) || { tail -20 "$BUILD/mypyc.log"; exit 1; }
compiled=$(find "$BUILD/src/baatcheet" -name '*.so' | wc -l)
echo "compiled modules: $compiled"
[ $# -gt 0 ] || set -- chat --compare node,baatcheet,baatcheet-normal --quiet-secs 20
PYTHONPATH="$BUILD/src" bash scripts/bench "$@"
