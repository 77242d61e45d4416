#!/usr/bin/env bash
# Makes sure Debian's chromium (driven by playwright-core in the browser tests) is installed,
# installing it from the system's packages if missing. Prints the browser binary's path.
set -euo pipefail

log() { echo "ensure-chromium: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

find_chromium() {
  local p
  for p in /usr/lib/chromium/chromium /usr/bin/chromium; do
    [ -x "$p" ] && { echo "$p"; return 0; }
  done
  return 1
}

if ! find_chromium >/dev/null; then
  command -v apt-get >/dev/null || { log "apt-get not found: install chromium yourself"; exit 1; }
  log "chromium not found: installing it (about 1.5 min)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi

path="$(find_chromium)" || { log "chromium is still missing after installing it"; exit 1; }
echo "$path"
