#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test ssmc; a no-op when all is there.
# System: LLVM 19, protobuf-c (library and protoc-c). Python: a venv with tools/requirements.txt,
# kept outside the checkout (keyed by the requirements' hash) so fresh clones reuse it.
# Option --export: also make the exporters' venv (torch, tools/requirements-export.txt).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
want_export=0
for arg in "$@"; do
  case "$arg" in
    --export) want_export=1 ;;
    *) echo "setup: unknown option $arg (known: --export)" >&2; exit 2 ;;
  esac
done

apt_packages=(llvm-19-dev libprotobuf-c-dev protobuf-c-compiler)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

venv=$("$here/venv-path.sh")
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  echo "setup: creating Python venv at $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  touch "$venv/.complete"
fi

if [ "$want_export" -eq 1 ]; then
  xvenv=$("$here/venv-path.sh" --export)
  if [ ! -x "$xvenv/bin/python" ] || [ ! -f "$xvenv/.complete" ]; then
    echo "setup: creating exporter venv at $xvenv" >&2
    rm -rf "$xvenv"
    python3 -m venv "$xvenv"
    # --no-deps keeps pip from pulling torch's CUDA packages; the pure-Python ones are pinned in the file.
    "$xvenv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$here/requirements-export.txt"
    if ! "$xvenv/bin/python" -c "import torch; torch.zeros(1) + 1" >/dev/null 2>&1; then
      echo "setup: torch does not import without its dependencies; installing normally" >&2
      "$xvenv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements-export.txt"
    fi
    touch "$xvenv/.complete"
  fi
fi
