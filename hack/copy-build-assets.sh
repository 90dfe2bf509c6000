#!/usr/bin/env bash
# Copy the files the compiled code reads at run time beside the modules that read them
# (tsc compiles only TypeScript): gRPC protocol files and handlebars templates.
# Usage: hack/copy-build-assets.sh [OUT_DIR]   (default dist; run after tsc -p tsconfig.build.json)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
count=0
for dir in proxy harness; do
  [[ -d $dir ]] || continue
  while IFS= read -r -d '' file; do
    mkdir -p "$out/$(dirname "$file")"
    cp "$file" "$out/$file"
    count=$((count + 1))
  done < <(find "$dir" -name node_modules -prune -o -type f \( -name '*.proto' -o -name '*.hbs' \) -print0)
done
echo "copy-build-assets: $count file(s) into $out/"
