#!/usr/bin/env bash
# Makes sure poppler's pdftotext (the receipt tests read their PDFs with it) is installed,
# installing Debian's poppler-utils if missing.
set -euo pipefail

log() { echo "ensure-pdftotext: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v pdftotext >/dev/null; then
  command -v apt-get >/dev/null || { log "apt-get not found: install poppler-utils yourself"; exit 1; }
  log "pdftotext not found: installing poppler-utils"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >&2
fi
command -v pdftotext >/dev/null || { log "pdftotext is still missing after installing poppler-utils"; exit 1; }
