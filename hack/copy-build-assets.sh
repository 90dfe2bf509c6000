#!/usr/bin/env bash
# Copy the files the compiled code reads at run time beside the modules that read them
# (tsc compiles only TypeScript): gRPC protocol files and handlebars templates; and the
# `kpng` launcher (proxy/kpng.sh, package.json's bin) beside the compiled cli.js it starts.
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
mkdir -p "$out/proxy"
cp proxy/kpng.sh "$out/proxy/kpng.sh"
chmod 755 "$out/proxy/kpng.sh"
count=$((count + 1))
echo "copy-build-assets: $count file(s) into $out/"
