# Shared by scripts/setup, scripts/run and scripts/test. Source it; do not run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

say() { printf '\033[1m[fieldscribe]\033[0m %s\n' "$*" >&2; }

# ensure_apt PKG...: install missing Debian packages when root, else say what is missing.
ensure_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        say "installing system packages: ${missing[*]}"
        if [ ! -f /tmp/.fieldscribe-apt-updated ]; then
            apt-get update -qq && touch /tmp/.fieldscribe-apt-updated
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        say "missing system packages: ${missing[*]}"
        say "install them with: sudo apt-get install ${missing[*]}"
        return 1
    fi
}

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            echo "$candidate"; return 0
        fi
    done
    return 1
}

setup_python() {
    # PortAudio for recording and playback; the app still runs without it, minus audio
    ensure_apt libportaudio2 || say "without libportaudio2, recording and playback are unavailable"
    # a font with Chinese characters, for the consent summary's PDF of a Chinese study
    ensure_apt fonts-wqy-microhei || say "without a Chinese font, Chinese consent summaries are written as HTML"
    local python
    if ! python="$(find_python)"; then
        ensure_apt python3 python3-venv python3-pip
        python="$(find_python)" || { say "Python 3.11 or newer is required"; exit 1; }
    fi
    if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
        ensure_apt python3-venv
    fi
    local stamp="$VENV/.fieldscribe-installed"
    local want
    want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
    if [ -x "$PY" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    say "setting up the Python environment in .venv (first run takes a minute)"
    [ -x "$PY" ] || "$python" -m venv "$VENV"
    "$PY" -m pip install -q --disable-pip-version-check -U pip
    "$PY" -m pip install -q --disable-pip-version-check -e "$ROOT[test]"
    echo "$want" > "$stamp"
}
