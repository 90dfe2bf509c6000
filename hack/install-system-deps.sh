#!/usr/bin/env bash
# Install the kernel tools the backends and the netns tier drive, from Debian's archive.
# Idempotent: installs only what is missing.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have iptables || need+=(iptables)
have nft || need+=(nftables)
have conntrack || need+=(conntrack)
have ip || need+=(iproute2)
have ipset || need+=(ipset)
have ipvsadm || need+=(ipvsadm)
have openssl || need+=(openssl)
have flock || need+=(util-linux)
# The eBPF backend: clang compiles its programs (-target bpf) against libbpf's headers,
# llvm-strip trims them, bpftool loads, pins, attaches and fills maps.
have clang || need+=(clang)
have llvm-strip || need+=(llvm)
[[ -f /usr/include/bpf/bpf_helpers.h ]] || need+=(libbpf-dev)
have bpftool || need+=(bpftool)
if [[ ${#need[@]} -eq 0 ]]; then exit 0; fi
if [[ $(id -u) -ne 0 ]]; then
  echo "!!! missing ${need[*]} and not root: install them (apt-get install ${need[*]})" >&2
  exit 0
fi
echo ">> apt-get install ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -o DPkg::Lock::Timeout=600 -y -qq --no-install-recommends "${need[@]}" >/dev/null
