# Shared helpers for scripts/install and scripts/serve. Source it; do not run it.
# Every step is idempotent and skips its work when a stamp shows it is already done.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.local/bin:$PATH"

log() { printf '==> %s\n' "$*" >&2; }

# Install uv with pip when it is missing (a fresh machine has only Python and Node).
ensure_uv() {
  command -v uv >/dev/null 2>&1 && return
  log "installing uv"
  python3 -m pip install --quiet uv \
    || python3 -m pip install --quiet --break-system-packages uv
}

# The locked Python environment, with the project itself importable from src/.
python_sync() {
  (cd "$REPO_ROOT" && uv sync --frozen --quiet)
  # An editable install whose .pth went missing still "checks" as installed; repair it.
  if ! (cd "$REPO_ROOT" && uv run --frozen --no-sync python -c 'import baatcheet') 2>/dev/null; then
    log "reinstalling the baatcheet package (its editable install was broken)"
    (cd "$REPO_ROOT" && uv sync --frozen --quiet --reinstall-package baatcheet)
  fi
}

# `npm ci` in $1 when it has a lock file, unless node_modules already matches that lock.
npm_ci() {
  local dir="$REPO_ROOT/$1"
  [[ -f "$dir/package-lock.json" ]] || return 0
  local stamp="$dir/node_modules/.baatcheet-lock.sha256"
  local want
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  log "npm ci in $1/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$want" >"$stamp"
}

# Build the React client into src/baatcheet/static/web unless nothing changed since the last build.
web_build() {
  local web="$REPO_ROOT/web"
  [[ -f "$web/package.json" ]] || return 0
  local out="$REPO_ROOT/src/baatcheet/static/web"
  local stamp="$out/.build-stamp"
  if [[ -f "$stamp" && -f "$out/index.html" ]] \
    && [[ -z "$(find "$web" -path "$web/node_modules" -prune -o -type f -newer "$stamp" -print -quit)" ]]; then
    return 0
  fi
  log "building the web client"
  (cd "$web" && npm run build --silent)
  mkdir -p "$out"
  touch "$stamp"
}
