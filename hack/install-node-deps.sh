#!/usr/bin/env bash
# Install the Node.js packages from the committed lock file (this brings the project's
# own Node.js 24 as the npm package `node`). Idempotent: skips when node_modules was
# installed from this very package.json and package-lock.json (by content, not by file
# times, which a checkout changes).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.kpng-installed
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" && -x node_modules/.bin/node ]]; then
  exit 0
fi
echo ">> npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
