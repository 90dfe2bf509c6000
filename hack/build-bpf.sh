#!/usr/bin/env bash
# Compile the eBPF backend's C programs (proxy/backends/ebpf/bpf/*.c) with clang -target bpf,
# cached by content: .cache/bpf/<name>-<sha256 of the source, 16 hex>.o is built once, then
# copied to OUT_DIR/proxy/backends/ebpf/bpf/<name>.o beside the compiled backend.
# Usage: hack/build-bpf.sh [OUT_DIR]   (default dist); prints each object's cached path.
# Needs clang and libbpf's headers (hack/install-system-deps.sh); without them it says so
# and exits 0, so a build on a machine without them still yields the other backends
# (with KPNG_BPF_REQUIRED=1, as the image's build sets it, it fails instead).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
src=proxy/backends/ebpf/bpf
cache=.cache/bpf
if ! command -v clang >/dev/null 2>&1 || [[ ! -f /usr/include/bpf/bpf_helpers.h ]]; then
  echo "!!! build-bpf: clang or libbpf-dev missing (hack/install-system-deps.sh): the eBPF backend's programs are not built" >&2
  [[ ${KPNG_BPF_REQUIRED:-} == 1 ]] && exit 1
  exit 0
fi
mkdir -p "$cache" "$out/$src"
arch_inc=/usr/include/$(uname -m)-linux-gnu
for c in "$src"/*.c; do
  name=$(basename "$c" .c)
  hash=$(sha256sum "$c" | cut -c1-16)
  obj=$cache/$name-$hash.o
  if [[ ! -f $obj ]]; then
    tmp=$(mktemp "$cache/.$name.XXXXXX")
    clang -O2 -g -Wall -Werror -target bpf -I"$arch_inc" -c "$c" -o "$tmp"
    mv "$tmp" "$obj"
  fi
  cp "$obj" "$out/$src/$name.o"
  echo "$PWD/$obj"
done
