#!/usr/bin/env bash
# Instructions the server runs per connect or per idle ping cycle, counted by callgrind.
#
# On a shared 2-core machine a CPU-time figure moves by tens of percent between identical
# runs; the number of instructions the server process executes in user space does not.
# This counts them for the fan-out app (bench/apps/fanout.py) while idle_cpu.py's raw
# clients connect (connect: instructions per handshake + namespace connect, their closes
# included) or sit idle pinged every 5 s (idle: instructions per ping and pong), so a change
# to those paths can be judged before and after on any machine. Kernel time (the system
# calls themselves) is not counted: it is the same work before and after such a change.
#
# Usage: bench/instructions.sh connect|idle [connections]   (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:?usage: bench/instructions.sh connect|idle [connections]}
clients=${2:-2000}
command -v valgrind > /dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
[[ $mode == connect || $mode == idle ]] || { echo "mode must be connect or idle, not $mode" >&2; exit 2; }

work=$(mktemp -d /tmp/baatcheet-instructions.XXXXXX)
# The project's interpreter itself, so that $! is the process callgrind instruments.
python=$(uv run python -c 'import sys; print(sys.executable)')
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BAATCHEET_PING_INTERVAL_MS=5000 valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$work/callgrind.out" "$python" bench/apps/fanout.py "$port" > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2> /dev/null || true' EXIT
# The port is bound before the app imports anything: wait until it answers a handshake,
# so that start-up is not counted.
"$python" - "$port" <<'PY'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/socket.io/?EIO=4&transport=polling"
for _ in range(600):
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            if answer.status == 200:
                break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit("the server under valgrind did not answer within two minutes")
PY
sleep 2

if [[ $mode == connect ]]; then
  callgrind_control -i on "$server" > /dev/null
  "$python" bench/idle_cpu.py run --url "ws://127.0.0.1:$port" --pid "$server" \
    --clients "$clients" --settle 0.5 --secs 0.5 > "$work/clients.json"
  callgrind_control -i off "$server" > /dev/null
  units=$clients
  unit=connect
else
  # Connect, let the connect work settle, then count 20 s of heartbeats: each connection
  # is pinged every 5 s, so the window holds four ping cycles per connection.
  "$python" bench/idle_cpu.py run --url "ws://127.0.0.1:$port" --pid "$server" \
    --clients "$clients" --settle 45 --secs 5 > "$work/clients.json" &
  clients_pid=$!
  sleep 25
  callgrind_control -i on "$server" > /dev/null
  sleep 20
  callgrind_control -i off "$server" > /dev/null
  wait $clients_pid
  units=$((clients * 4))
  unit="ping cycle"
fi
kill -TERM $server; wait $server 2> /dev/null || true
total=$(grep -h '^totals:' "$work"/callgrind.out* | awk '{ if ($2 > max) max = $2 } END { print max }')
echo "$mode: $(( total / units )) instructions per $unit ($total over $units), $clients connections"
rm -rf "$work"
