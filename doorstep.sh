#!/usr/bin/env bash
# Doorstep's two commands for a fresh Debian 12 / Raspberry Pi OS machine:
#   ./doorstep.sh demo   install what is missing, then run the whole system on this machine
#   ./doorstep.sh test   install what is missing, then run lint and the full test suite
# Run as root or as a user with sudo. Safe to run again: it only installs what is missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${DOORSTEP_VENV:-$HERE/.venv}"
PY="${PYTHON:-python3}"

say() { printf '\033[1m[doorstep]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[doorstep] error:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@";
    elif command -v sudo >/dev/null; then sudo "$@";
    else die "need root to run: $* (re-run as root or install sudo)"; fi
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null || die "missing $*; this script installs with apt-get (Debian / Raspberry Pi OS)"
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    say "installing $* from apt"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

need_system_packages() {
    local missing=()
    command -v "$PY" >/dev/null || missing+=(python3)
    "$PY" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
    [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null || missing+=(mosquitto)
    if [ "${1:-}" = test ]; then
        command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || missing+=(chromium)
    fi
    if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
    "$PY" - <<'PYEOF' || die "Python 3.11 or newer is needed (found $("$PY" --version 2>&1))"
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PYEOF
}

need_venv() {
    local stamp="$VENV/.doorstep-installed"
    local want
    want="$(sha256sum "$HERE/pyproject.toml" | cut -d' ' -f1)"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating virtual environment in $VENV"
        "$PY" -m venv "$VENV"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing Doorstep and its Python packages into $VENV (first run takes a minute)"
        "$VENV/bin/python" -m pip install -q --upgrade pip
        "$VENV/bin/python" -m pip install -q -e "$HERE[dev]"
        echo "$want" > "$stamp"
    fi
}

run_tests() {
    cd "$HERE"
    say "ruff (lint)"
    "$VENV/bin/ruff" check .
    say "import rules (import-linter)"
    "$VENV/bin/lint-imports" --no-cache
    say "pytest (full suite)"
    set +e
    # Most tests wait on brokers, timers and browsers rather than the CPU: two workers
    # finish in about 7.5 min instead of 22. Three were 6 min, but more tests raced their
    # own timeouts on two cores; set DOORSTEP_TEST_WORKERS to choose.
    # Whole modules go to one worker (--dist loadscope): some share state between their
    # tests on purpose (a module-wide fixture that the tests take through a story).
    "$VENV/bin/python" -m pytest -n "${DOORSTEP_TEST_WORKERS:-2}" --dist loadscope --durations=15 "$@"
    local rc=$?
    set -e
    if [ "$rc" -eq 5 ]; then
        die "pytest collected no tests: that is a broken suite, not a pass"
    fi
    return "$rc"
}

cmd="${1:-}"
shift || true
case "$cmd" in
    demo)
        need_system_packages demo
        need_venv
        exec "$VENV/bin/doorstep" demo "$@"
        ;;
    test)
        need_system_packages test
        need_venv
        run_tests "$@"
        ;;
    setup)
        need_system_packages test
        need_venv
        say "ready: $VENV/bin/doorstep --help"
        ;;
    *)
        echo "usage: $0 demo|test|setup [args]" >&2
        exit 2
        ;;
esac
