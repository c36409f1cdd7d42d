#!/usr/bin/env bash
# Prints the venv folder for the current tools/requirements.txt (SSMC_VENV overrides).
# With --export: the exporters' venv for tools/requirements-export.txt (SSMC_EXPORT_VENV overrides).
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = "--export" ]; then
  if [ -n "${SSMC_EXPORT_VENV:-}" ]; then echo "$SSMC_EXPORT_VENV"; exit 0; fi
  hash=$(sha256sum "$here/requirements-export.txt" | cut -c1-12)
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/ssmc/venv-export-$hash"
  exit 0
fi
if [ -n "${SSMC_VENV:-}" ]; then echo "$SSMC_VENV"; exit 0; fi
hash=$(sha256sum "$here/requirements.txt" | cut -c1-12)
echo "${XDG_CACHE_HOME:-$HOME/.cache}/ssmc/venv-$hash"
