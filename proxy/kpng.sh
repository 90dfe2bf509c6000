#!/bin/sh
# The `kpng` command as users run it: package.json's bin and the image's ENTRYPOINT both
# start the proxy through this script, the one place that says which Node.js flags it runs
# with (a shebang cannot carry them portably: busybox env has no -S).
#
# --max-semi-space-size=2 (MiB): V8 otherwise grows the young generation to 128 MiB during
# the first sync, which is most of the proxy's peak RSS (the live heap after the first sync
# of 1,000 Services is ~34 MiB). Measured with proxy/bench/profile-start.ts at 1,000
# Services (peak RSS, iptables-legacy / nftables): no flag 191 / 154 MiB, 1 MiB 129 / 122,
# 2 MiB 132 / 123, 4 MiB 135 / 127, 8 MiB 143 / 133, with start and CPU within run-to-run
# noise; 1 MiB saves no more memory than 2 and scavenges twice as often. A semi-space size
# in NODE_OPTIONS replaces this one.
#
# Beside the compiled cli.js (dist/proxy/, where the build copies this script) it runs
# that; in the source tree, cli.ts.
set -eu
here=$(dirname "$(readlink -f "$0")")
entry=$here/cli.js
[ -e "$entry" ] || entry=$here/cli.ts
case " ${NODE_OPTIONS-} " in
  *--max-semi-space-size*) exec node "$entry" "$@" ;;
  *) exec node --max-semi-space-size=2 "$entry" "$@" ;;
esac
