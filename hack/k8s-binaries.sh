#!/usr/bin/env bash
# Obtain the pinned Kubernetes binaries: etcd, kube-apiserver, kube-proxy, kubectl,
# e2e.test and ginkgo, and for the netns cluster kubelet, kube-controller-manager,
# kube-scheduler, agnhost, regression-issue-74839 (an e2e test image's one binary) and
# coredns (the version kubeadm deploys), for the one version pinned in hack/k8s-version.
#
# They land in .cache/k8s/<version>/bin/ (git-ignored), or in $KPNG_K8S_BIN_DIR.
# Official release tarballs are used when they can be reached; otherwise every
# binary is built from source fetched through the Go module proxy (GOPROXY),
# using Go's ordinary module and build caches.
#
# Usage: hack/k8s-binaries.sh [--if-needed] [--only a,b,...] [--no-download] [--force]
#   (no flags)     all twelve binaries
#   --if-needed    what the test tiers present need (used by `make test`):
#                  etcd, kube-apiserver and kubectl when some *.cluster.test.ts or *.lab.test.ts
#                  exists under proxy/ harness/ e2e/, e2e.test and ginkgo when some
#                  *.suite.test.ts does, `cluster` and e2e.test and ginkgo when some
#                  *.e2e.test.ts does (the upstream suite on netns clusters); when none,
#                  say so and exit 0
#   --only LIST    just these (comma-separated names from the list above); the name
#                  `cluster` stands for what the netns cluster runs: etcd, kube-apiserver,
#                  kubectl, kube-proxy, kubelet, kube-controller-manager, kube-scheduler, agnhost,
#                  regression-issue-74839, coredns
#   --no-download  skip the release downloads, build from the module proxy
#   --force        obtain again even when present
# Environment: KPNG_K8S_BIN_DIR (output folder), KPNG_K8S_NO_DOWNLOAD=1,
#   KPNG_ETCD_VERSION (override the etcd version Kubernetes pins),
#   KPNG_COREDNS_VERSION (override the CoreDNS version kubeadm pins),
#   KPNG_GO_JOBS (go build -p, default: number of cores), GOPROXY, GOMODCACHE, GOCACHE.
set -euo pipefail

ALL=(etcd kube-apiserver kube-proxy kubectl e2e.test ginkgo kubelet kube-controller-manager kube-scheduler agnhost regression-issue-74839 coredns)
SUBSET_CLUSTER=(etcd kube-apiserver kubectl kube-proxy kubelet kube-controller-manager kube-scheduler agnhost regression-issue-74839 coredns)
SUBSET_IF_NEEDED=(etcd kube-apiserver kubectl)
SUBSET_SUITE=(e2e.test ginkgo)
K8S_TAGS=selinux,notest,grpcnotrace # as Kubernetes' own release builds (hack/lib/golang.sh)

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
t0=$SECONDS

dur() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
log() { printf '[k8s-binaries +%s] %s\n' "$(dur $((SECONDS - t0)))" "$*"; }
warn() { printf '[k8s-binaries] warning: %s\n' "$*" >&2; }
die() {
  printf '[k8s-binaries] error: %s\n' "$*" >&2
  exit 1
}
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }

# ---------------------------------------------------------------- arguments
if_needed=false no_download=${KPNG_K8S_NO_DOWNLOAD:-} force=false only=
while (($#)); do
  case $1 in
    --if-needed) if_needed=true ;;
    --only) [[ $# -ge 2 ]] || die "--only needs a list, e.g. --only etcd,kube-apiserver"; only=$2; shift ;;
    --only=*) only=${1#--only=} ;;
    --no-download) no_download=1 ;;
    --force) force=true ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

version=$(tr -d '[:space:]' <"$repo/hack/k8s-version")
if [[ ! $version =~ ^v1\.([0-9]+)\.([0-9]+)(-[0-9A-Za-z.-]+)?$ ]]; then
  die "hack/k8s-version holds '$version'; expected a release such as v1.34.4"
fi
k8s_minor=${BASH_REMATCH[1]}
staging_version=v0.${version#v1.} # k8s.io/api etc. are tagged v0.<minor>.<patch>
cache=$repo/.cache/k8s/$version
bin_dir=${KPNG_K8S_BIN_DIR:-$cache/bin}
[[ $bin_dir == /* ]] || bin_dir=$PWD/$bin_dir

wanted=()
if [[ -n $only ]]; then
  IFS=, read -ra listed <<<"$only"
  for name in "${listed[@]}"; do
    if [[ $name == cluster ]]; then
      for n in "${SUBSET_CLUSTER[@]}"; do [[ " ${wanted[*]} " == *" $n "* ]] || wanted+=("$n"); done
      continue
    fi
    [[ " ${ALL[*]} " == *" $name "* ]] || die "--only: unknown binary '$name' (choose from: ${ALL[*]}, or cluster)"
    [[ " ${wanted[*]} " == *" $name "* ]] || wanted+=("$name")
  done
elif $if_needed; then
  # What the test tiers present need: *.cluster.test.ts and *.lab.test.ts a control plane (and kubectl),
  # *.suite.test.ts e2e.test and ginkgo, *.e2e.test.ts a netns cluster, e2e.test and ginkgo.
  dirs=()
  for d in proxy harness e2e; do [[ -d $repo/$d ]] && dirs+=("$repo/$d"); done
  has_tier() {
    ((${#dirs[@]})) && [[ -n $(find "${dirs[@]}" -name node_modules -prune -o -name "*.$1.test.ts" -print -quit) ]]
  }
  if has_tier cluster || has_tier lab; then wanted+=("${SUBSET_IF_NEEDED[@]}"); fi
  if has_tier suite; then wanted+=("${SUBSET_SUITE[@]}"); fi
  if has_tier e2e; then
    for n in "${SUBSET_CLUSTER[@]}" "${SUBSET_SUITE[@]}"; do [[ " ${wanted[*]} " == *" $n "* ]] || wanted+=("$n"); done
  fi
  if ((${#wanted[@]} == 0)); then
    echo "k8s-binaries: no *.cluster.test.ts nor *.suite.test.ts under proxy/ harness/ e2e/, so no Kubernetes binaries are needed (make k8s-binaries obtains them all)"
    exit 0
  fi
else
  wanted=("${ALL[@]}")
fi

stamp() { echo "$bin_dir/.$1.stamp"; }
present() { [[ -x $bin_dir/$1 && -f $(stamp "$1") ]] && grep -qx "kubernetes=$version" "$(stamp "$1")"; }
missing_list() {
  local name
  for name in "${wanted[@]}"; do
    if $force || ! present "$name"; then echo "$name"; fi
  done
}
report_done() {
  local name
  echo "k8s-binaries: Kubernetes $version binaries ready in $bin_dir:"
  for name in "${wanted[@]}"; do
    printf '  %-15s %s\n' "$name" "$(grep '^source=' "$(stamp "$name")" | cut -d= -f2-)"
  done
}

mapfile -t todo < <(missing_list)
if ((${#todo[@]} == 0)); then
  report_done
  exit 0
fi

# ------------------------------------------------- one run at a time, clean up on exit
mkdir -p "$cache" "$bin_dir"
heartbeat_pid='' tmp_files=()
cleanup() {
  if [[ -n $heartbeat_pid ]]; then kill "$heartbeat_pid" 2>/dev/null || true; fi
  if ((${#tmp_files[@]})); then rm -rf "${tmp_files[@]}"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache/.lock"
  if ! flock -n 9; then
    log "another hack/k8s-binaries.sh is working on $version; waiting for it"
    flock 9
  fi
  mapfile -t todo < <(missing_list) # it may have done our work
  if ((${#todo[@]} == 0)); then
    report_done
    exit 0
  fi
fi

log "Kubernetes $version: to obtain: ${todo[*]} (into $bin_dir)"
avail_kb=$(df -Pk "$cache" | awk 'NR==2 {print $4}')
if [[ -n $avail_kb ]] && ((avail_kb < 15 * 1024 * 1024)); then
  warn "only $((avail_kb / 1024 / 1024)) GiB free near $cache; a build from source needs ~15 GiB (module + build caches)"
fi

# run_logged LABEL LOG DIR CMD...: run CMD in DIR, output to LOG, saying every minute
# that it is still going.
run_logged() {
  local label=$1 log_file=$2 dir=$3 start=$SECONDS rc=0
  shift 3
  (while sleep 60 && kill -0 $$ 2>/dev/null; do log "  ... still $label ($(dur $((SECONDS - start))))"; done) &
  heartbeat_pid=$!
  (cd "$dir" && exec "$@") >"$log_file" 2>&1 || rc=$?
  kill "$heartbeat_pid" 2>/dev/null || true
  wait "$heartbeat_pid" 2>/dev/null || true
  heartbeat_pid=
  return "$rc"
}

# install NAME FILE SOURCE: move a finished binary into place (atomic) and stamp it.
install_bin() {
  local name=$1 file=$2 source=$3
  chmod 0755 "$file"
  mv -f "$file" "$bin_dir/$name"
  printf 'kubernetes=%s\nsource=%s\ncompleted=%s\n' "$version" "$source" "$(date -u +%FT%TZ)" >"$(stamp "$name").tmp"
  mv -f "$(stamp "$name").tmp" "$(stamp "$name")"
}

still_missing() {
  local name out=()
  for name in "${todo[@]}"; do
    if $force && [[ " ${obtained[*]} " == *" $name "* ]]; then continue; fi
    if ! $force && present "$name"; then continue; fi
    out+=("$name")
  done
  todo=("${out[@]+"${out[@]}"}")
}
obtained=()
problems=() # what stood in the way, for the final message

# ------------------------------------------------------------- etcd version
# Kubernetes pins the etcd it tests with in hack/lib/etcd.sh (ETCD_VERSION=${ETCD_VERSION:-3.6.5}).
etcd_version=${KPNG_ETCD_VERSION:-}
# shellcheck disable=SC2016 # a literal ${...} in the pattern
etcd_version_from_script() { sed -n 's/^ETCD_VERSION=\${ETCD_VERSION:-\([0-9][0-9.]*\)}.*/\1/p' | head -n1; }

# --------------------------------------------------- 1. official release downloads
os=$(uname -s | tr '[:upper:]' '[:lower:]')
case $(uname -m) in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac

reachable() { curl -fsSIL -o /dev/null --connect-timeout 5 --max-time 30 "$1" 2>/dev/null; }

# fetch URL FILE: download, and check it against URL.sha512 or URL.sha256 when published.
fetch() {
  local url=$1 file=$2 sum
  curl -fsSL --connect-timeout 5 --retry 2 -o "$file" "$url" || return 1
  if sum=$(curl -fsSL --connect-timeout 5 "$url.sha512" 2>/dev/null); then
    [[ $(sha512sum "$file" | cut -d' ' -f1) == "${sum%% *}" ]] || { warn "checksum mismatch for $url"; return 1; }
  elif sum=$(curl -fsSL --connect-timeout 5 "$url.sha256" 2>/dev/null); then
    [[ $(sha256sum "$file" | cut -d' ' -f1) == "${sum%% *}" ]] || { warn "checksum mismatch for $url"; return 1; }
  else
    warn "no published checksum for $url; using it unchecked"
  fi
}

# from_tarball URL PREFIX NAME...: download URL and install PREFIX/NAME for each NAME.
from_tarball() {
  local url=$1 prefix=$2 start=$SECONDS name members=()
  shift 2
  local dir
  dir=$(mktemp -d "$cache/.download.XXXXXX")
  tmp_files+=("$dir")
  log "downloading ${url##*/} for: $*"
  for name; do members+=("$prefix/$name"); done
  if fetch "$url" "$dir/t.tgz" && tar -xzf "$dir/t.tgz" -C "$dir" "${members[@]}"; then
    for name; do
      install_bin "$name" "$dir/$prefix/$name" "release download ${url##*/}"
      obtained+=("$name")
    done
    log "  done in $(dur $((SECONDS - start)))"
  else
    problems+=("download of $url failed")
    warn "download of $url failed; will build instead"
  fi
  rm -rf "$dir"
}

try_downloads() {
  local server=() test=() name base="https://dl.k8s.io/$version"
  if ! command -v curl >/dev/null 2>&1; then
    problems+=("curl not installed, so no release downloads")
    return
  fi
  if [[ $os != linux ]]; then
    problems+=("release server/test tarballs exist for linux only (this is $os)")
    return
  fi
  for name in "${todo[@]}"; do
    case $name in
      kube-apiserver | kube-proxy | kubectl | kubelet | kube-controller-manager | kube-scheduler) server+=("$name") ;;
      e2e.test | ginkgo) test+=("$name") ;;
    esac
  done
  if ((${#server[@]} + ${#test[@]})); then
    if reachable "$base/kubernetes-server-linux-$arch.tar.gz"; then
      if ((${#server[@]})); then
        from_tarball "$base/kubernetes-server-linux-$arch.tar.gz" kubernetes/server/bin "${server[@]}"
      fi
      if ((${#test[@]})); then
        from_tarball "$base/kubernetes-test-linux-$arch.tar.gz" kubernetes/test/bin "${test[@]}"
      fi
    else
      problems+=("release downloads ($base/...) unreachable")
      log "release downloads unreachable; will build from the Go module proxy"
    fi
  fi
  if [[ " ${todo[*]} " == *" etcd "* ]]; then
    if [[ -z $etcd_version ]] && reachable "https://raw.githubusercontent.com/kubernetes/kubernetes/$version/hack/lib/etcd.sh"; then
      etcd_version=$(curl -fsSL --connect-timeout 5 "https://raw.githubusercontent.com/kubernetes/kubernetes/$version/hack/lib/etcd.sh" | etcd_version_from_script) || true
    fi
    if [[ -n $etcd_version ]]; then
      local etcd_url="https://github.com/etcd-io/etcd/releases/download/v$etcd_version/etcd-v$etcd_version-linux-$arch.tar.gz"
      if reachable "$etcd_url"; then
        from_tarball "$etcd_url" "etcd-v$etcd_version-linux-$arch" etcd
      else
        problems+=("etcd release download unreachable")
        log "etcd release download unreachable; will build it from the Go module proxy"
      fi
    else
      problems+=("etcd release download not tried: could not read which etcd version Kubernetes $version uses")
    fi
  fi
  still_missing
}

if [[ -z $no_download ]]; then
  try_downloads
else
  log "release downloads skipped (--no-download)"
fi
if ((${#todo[@]} == 0)); then
  report_done
  log "done in $(dur $((SECONDS - t0)))"
  exit 0
fi

# ---------------------------------------------- 2. build from the Go module proxy
fail_build() {
  printf '[k8s-binaries] error: could not obtain: %s\n' "${todo[*]}" >&2
  local p
  for p in "${problems[@]}" "$@"; do printf '  - %s\n' "$p" >&2; done
  exit 1
}

go_bin=$(command -v go || true)
if [[ -z $go_bin && -x /usr/local/go/bin/go ]]; then go_bin=/usr/local/go/bin/go; fi
[[ -n $go_bin ]] || fail_build "no Go toolchain: 'go' is not in PATH nor at /usr/local/go/bin/go (install Go >= 1.24 from https://go.dev/dl/)"
go() { "$go_bin" "$@"; }
export GOWORK=off GO111MODULE=on CGO_ENABLED=0
unset GOOS GOARCH
goproxy=$(go env GOPROXY)
[[ $goproxy != off ]] || fail_build "GOPROXY=off: building needs the Go module proxy (e.g. GOPROXY=https://proxy.golang.org)"
jobs=${KPNG_GO_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
log "building from the Go module proxy with $(go env GOVERSION), -p $jobs (GOPROXY=$goproxy, GOMODCACHE=$(go env GOMODCACHE), GOCACHE=$(go env GOCACHE))"
mkdir -p "$cache/logs"

# module_download PATH@VERSION: prints `go mod download -json`; fails with its error.
module_download() {
  local out
  if ! out=$(cd "$cache" && GOFLAGS='' go mod download -json "$1" 2>&1); then
    local err
    err=$(sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"$out" | sed 's/\\"/"/g')
    fail_build "cannot fetch $1 through the Go module proxy (GOPROXY=$goproxy): ${err:-$out}"
  fi
  printf '%s\n' "$out"
}
json_field() { sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\\{0,1\}\$/\\1/p" | head -n1; }

log "fetching k8s.io/kubernetes@$version source"
k8s_json=$(module_download "k8s.io/kubernetes@$version")
k8s_src=$(json_field Dir <<<"$k8s_json")
k8s_info=$(json_field Info <<<"$k8s_json")
k8s_time=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$k8s_info" 2>/dev/null || true)
[[ -f $k8s_src/go.mod ]] || fail_build "k8s.io/kubernetes@$version downloaded but $k8s_src/go.mod is missing"
if [[ -z $etcd_version ]]; then
  etcd_version=$(etcd_version_from_script <"$k8s_src/hack/lib/etcd.sh" || true)
fi

# write_if_changed FILE: stdin to FILE, atomically, only when different.
write_if_changed() {
  local tmp="$1.tmp.$$"
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}

# A module that requires k8s.io/kubernetes. Kubernetes' own go.mod replaces each staging
# module (k8s.io/api, k8s.io/client-go, ...) with ./staging/src/..., which a dependency
# cannot see, so pin each of them to its published v0.x.y twin instead.
prepare_k8s_module() {
  local dir=$cache/build gomod=$k8s_src/go.mod
  mkdir -p "$dir"
  local go_line godebug replaces other ginkgo_version
  go_line=$(awk '$1 == "go" {print; exit}' "$gomod")
  godebug=$(awk '/^godebug \(/ {b=1} b {print} b && /^\)/ {b=0} /^godebug [^(]/ {print}' "$gomod")
  replaces=$(sed -n 's#^[[:space:]]*\(replace[[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]\{1,\}\)[[:space:]]*=>[[:space:]]*\./staging/src/.*$#\t\2 => \2 '"$staging_version"'#p' "$gomod")
  other=$(grep -E '=>' "$gomod" | grep -vE '=>[[:space:]]*\./staging/src/' || true)
  [[ -z $other ]] || fail_build "k8s.io/kubernetes@$version go.mod has replace directives this script does not know: $other"
  [[ -n $replaces ]] || fail_build "found no staging replace directives in $gomod"
  ginkgo_version=$(awk '$1 == "github.com/onsi/ginkgo/v2" {print $2; exit}' "$gomod")
  [[ -n $ginkgo_version ]] || fail_build "$gomod does not require github.com/onsi/ginkgo/v2"
  {
    echo "// Generated by hack/k8s-binaries.sh from k8s.io/kubernetes@$version's go.mod; do not edit."
    echo "module kpng.local/k8s-binaries"
    echo
    echo "$go_line"
    [[ -z $godebug ]] || printf '\n%s\n' "$godebug"
    echo
    echo "require ("
    printf '\tk8s.io/kubernetes %s\n' "$version"
    printf '\tgithub.com/onsi/ginkgo/v2 %s\n' "$ginkgo_version"
    echo ")"
    echo
    echo "replace ("
    echo "$replaces"
    echo ")"
  } | write_if_changed "$dir/go.mod"
  # Start from Kubernetes' own checksums; the build adds the staging modules' ones.
  [[ -f $dir/go.sum ]] || cp "$k8s_src/go.sum" "$dir/go.sum"
  chmod u+w "$dir/go.sum"
}

# A module that requires etcd's server module, which holds etcd's main package. Its
# go.mod replaces etcd's sibling modules with ../api etc., so require those at the
# same version.
prepare_etcd_module() {
  [[ -n $etcd_version ]] || fail_build "could not tell which etcd version Kubernetes $version uses (no ETCD_VERSION in hack/lib/etcd.sh); set KPNG_ETCD_VERSION"
  log "fetching go.etcd.io/etcd/server/v3@v$etcd_version source"
  local json src dir=$cache/build-etcd siblings
  json=$(module_download "go.etcd.io/etcd/server/v3@v$etcd_version")
  src=$(json_field Dir <<<"$json")
  mkdir -p "$dir"
  siblings=$(sed -n 's#^[[:space:]]*\(replace[[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]\{1,\}\)[[:space:]]*=>[[:space:]]*\.\./.*$#\t\2 v'"$etcd_version"'#p' "$src/go.mod")
  {
    echo "// Generated by hack/k8s-binaries.sh for etcd v$etcd_version; do not edit."
    echo "module kpng.local/etcd-binary"
    echo
    awk '$1 == "go" {print; exit}' "$src/go.mod"
    echo
    echo "require ("
    printf '\tgo.etcd.io/etcd/server/v3 v%s\n' "$etcd_version"
    echo "$siblings"
    echo ")"
  } | write_if_changed "$dir/go.mod"
  [[ -f $dir/go.sum ]] || cp "$src/go.sum" "$dir/go.sum"
  chmod u+w "$dir/go.sum"
}

# A module that requires CoreDNS at the version kubeadm deploys with this Kubernetes
# (cmd/kubeadm/app/constants: CoreDNSVersion). CoreDNS' go.mod has no replace directives.
prepare_coredns_module() {
  local cdv=${KPNG_COREDNS_VERSION:-}
  if [[ -z $cdv ]]; then
    cdv=$(sed -n 's/^[[:space:]]*CoreDNSVersion = "\(v[0-9][0-9.]*\)".*/\1/p' "$k8s_src/cmd/kubeadm/app/constants/constants.go" | head -n1)
  fi
  [[ -n $cdv ]] || fail_build "could not tell which CoreDNS version kubeadm $version deploys (no CoreDNSVersion in cmd/kubeadm/app/constants/constants.go); set KPNG_COREDNS_VERSION"
  coredns_version=$cdv
  log "fetching github.com/coredns/coredns@$cdv source"
  local json src dir=$cache/build-coredns
  json=$(module_download "github.com/coredns/coredns@$cdv")
  src=$(json_field Dir <<<"$json")
  if grep -qE '^[[:space:]]*replace' "$src/go.mod"; then fail_build "github.com/coredns/coredns@$cdv go.mod has replace directives this script does not know"; fi
  mkdir -p "$dir"
  {
    echo "// Generated by hack/k8s-binaries.sh for CoreDNS $cdv; do not edit."
    echo "module kpng.local/coredns-binary"
    echo
    awk '$1 == "go" {print; exit}' "$src/go.mod"
    echo
    printf 'require github.com/coredns/coredns %s\n' "$cdv"
  } | write_if_changed "$dir/go.mod"
  [[ -f $dir/go.sum ]] || cp "$src/go.sum" "$dir/go.sum"
  chmod u+w "$dir/go.sum"
}
coredns_version=

# The version stamps Kubernetes' release build sets (hack/lib/version.sh).
k8s_ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=${k8s_time:-1970-01-01T00:00:00Z}"
done

# build NAME: build one binary into a temporary name, then move it into place.
build() {
  local name=$1 start=$SECONDS dir=$cache/build tmp
  local -a cmd
  case $name in
    kube-apiserver | kube-proxy | kubectl | kubelet | kube-controller-manager | kube-scheduler)
      cmd=("$go_bin" build -p "$jobs" -trimpath -tags "$K8S_TAGS" -ldflags "$k8s_ldflags" -o OUT "k8s.io/kubernetes/cmd/$name") ;;
    agnhost | regression-issue-74839) # an e2e test image's one binary (no release download exists)
      cmd=("$go_bin" build -p "$jobs" -trimpath -ldflags "-s -w" -o OUT "k8s.io/kubernetes/test/images/$name") ;;
    coredns)
      dir=$cache/build-coredns
      cmd=("$go_bin" build -p "$jobs" -trimpath -ldflags "-s -w" -o OUT github.com/coredns/coredns) ;;
    e2e.test)
      cmd=("$go_bin" test -c -p "$jobs" -trimpath -tags "$K8S_TAGS" -ldflags "$k8s_ldflags" -o OUT k8s.io/kubernetes/test/e2e) ;;
    ginkgo)
      cmd=("$go_bin" build -p "$jobs" -trimpath -ldflags "-s -w" -o OUT github.com/onsi/ginkgo/v2/ginkgo) ;;
    etcd)
      dir=$cache/build-etcd
      cmd=("$go_bin" build -p "$jobs" -trimpath -ldflags "-s -w" -o OUT go.etcd.io/etcd/server/v3) ;;
  esac
  tmp=$bin_dir/.$name.tmp.$$
  tmp_files+=("$tmp")
  cmd=("${cmd[@]/#OUT/$tmp}")
  log "building $name"
  if ! run_logged "building $name" "$cache/logs/$name.log" "$dir" env GOFLAGS="-mod=mod -buildvcs=false" "${cmd[@]}"; then
    tail -n 40 "$cache/logs/$name.log" >&2
    if grep -qE 'dial tcp|lookup .*(no such host|server misbehaving)|i/o timeout|connection refused|TLS handshake' "$cache/logs/$name.log"; then
      fail_build "building $name needed modules the Go module proxy (GOPROXY=$goproxy) did not deliver; log: $cache/logs/$name.log"
    fi
    fail_build "building $name failed; log: $cache/logs/$name.log"
  fi
  local source
  source="built from module proxy, $(go env GOVERSION)"
  [[ $name != etcd ]] || source+=", etcd v$etcd_version"
  [[ $name != coredns ]] || source+=", coredns $coredns_version"
  install_bin "$name" "$tmp" "$source"
  obtained+=("$name")
  log "built $name in $(dur $((SECONDS - start)))"
}

k8s_ready=false
for name in etcd kube-apiserver kubectl kube-proxy ginkgo e2e.test kube-scheduler agnhost regression-issue-74839 kube-controller-manager kubelet coredns; do
  [[ " ${todo[*]} " == *" $name "* ]] || continue
  if [[ $name == etcd ]]; then
    prepare_etcd_module
  elif [[ $name == coredns ]]; then
    prepare_coredns_module
  elif ! $k8s_ready; then
    prepare_k8s_module
    k8s_ready=true
  fi
  build "$name"
done

report_done
log "done in $(dur $((SECONDS - t0)))"
