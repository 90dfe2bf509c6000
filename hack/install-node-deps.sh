#!/usr/bin/env bash
# Install the Node.js packages from the committed lock file (this brings the project's
# own Node.js 24 as the npm package `node`). Idempotent: skips when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.kpng-installed
if [[ -f $stamp && $stamp -nt package-lock.json && $stamp -nt package.json && -x node_modules/.bin/node ]]; then
  exit 0
fi
echo ">> npm ci"
npm ci --no-audit --no-fund --loglevel=error
touch "$stamp"
