#!/usr/bin/env bash
# Build (once) the Python 3.10 virtualenv that runs Rasa 3.6: Rasa does not support Python 3.11+,
# so it lives beside the project's venv, never inside it. Prints the venv path on success.
set -euo pipefail

RASA_VERSION="${STORMDESK_RASA_VERSION:-3.6.21}"
VENV="${STORMDESK_RASA_VENV:-$HOME/.cache/stormdesk/rasa}"

if [[ -x "$VENV/bin/rasa" ]] && "$VENV/bin/python" -c "import rasa, sys; sys.exit(rasa.__version__ != '$RASA_VERSION')" 2>/dev/null; then
  echo "$VENV"
  exit 0
fi

find_python310() {
  local candidate
  if [[ -n "${STORMDESK_RASA_PYTHON:-}" ]]; then
    echo "$STORMDESK_RASA_PYTHON"; return 0
  fi
  for candidate in /root/.pyenv/versions/3.10.*/bin/python "$HOME"/.pyenv/versions/3.10.*/bin/python \
      "$(command -v python3.10 || true)"; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

PY="$(find_python310)" || { echo "no Python 3.10 found (set STORMDESK_RASA_PYTHON)" >&2; exit 3; }

# A half-built venv from an interrupted run is worse than none: start clean.
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade "pip<24.1" >&2
"$VENV/bin/python" -m pip install --quiet "rasa==$RASA_VERSION" >&2
"$VENV/bin/python" -c "import rasa; print('rasa', rasa.__version__)" >&2
echo "$VENV"
