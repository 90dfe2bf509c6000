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
# The netns cluster (harness/cluster/netns): a container runtime per node, its CNI plugins,
# and what its images are built from (a static busybox, gcc for the static pause binary,
# mmdebstrap for the test images' Debian layer).
have containerd || need+=(containerd)
have runc || need+=(runc)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/portmap && -x /usr/lib/cni/loopback ]] || need+=(containernetworking-plugins)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed" || need+=(busybox-static)
have mmdebstrap || need+=(mmdebstrap)
have gcc || need+=(gcc libc6-dev)
if [[ ${#need[@]} -eq 0 ]]; then exit 0; fi
if [[ $(id -u) -ne 0 ]]; then
  echo "!!! missing ${need[*]} and not root: install them (apt-get install ${need[*]})" >&2
  exit 0
fi
echo ">> apt-get install ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -o DPkg::Lock::Timeout=600 -y -qq --no-install-recommends "${need[@]}" >/dev/null
