#!/usr/bin/env bash
# reuse.sh NAME VERSION DEST: link DEST to a NAME already on PATH, outside DEST's directory,
# that reports VERSION, so `make tools` need not build it. Exits 0 once linked; 1 when nothing
# on PATH matches (the caller builds it then), after one line per NAME found at another version.
#
# The version is what the binary prints (`--version` or the like). Go builds that print none
# (`go install` leaves the Temporal CLI at 0.0.0-DEV and helm at v3.19) are read with
# `go version -m`, which names the module version they were built from.
# IDP_REUSE_TOOLS=0 turns reuse off: everything is built.
set -uo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 NAME VERSION DEST" >&2
  exit 2
fi
name=$1 want=${2#v} dest=$3
[ "${IDP_REUSE_TOOLS:-1}" = 0 ] && exit 1

case $name in
  temporal) args=(--version) mod=github.com/temporalio/cli ;;
  helm) args=(version --short) mod=helm.sh/helm/v3 ;;
  kube-apiserver | kube-controller-manager | kube-scheduler) args=(--version) mod=k8s.io/kubernetes ;;
  kwok) args=(--version) mod=sigs.k8s.io/kwok ;;
  argocd) args=(version --client --short) mod=github.com/argoproj/argo-cd/v2 ;;
  *)
    echo "reuse.sh: no version check for $name" >&2
    exit 2
    ;;
esac

semver='[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?'

# version_of BINARY: the release version BINARY reports, without a leading v, or "".
version_of() {
  local out v=""
  if command -v timeout >/dev/null 2>&1; then
    out=$(timeout 20 "$1" "${args[@]}" 2>/dev/null | head -n 3)
  else
    out=$("$1" "${args[@]}" 2>/dev/null | head -n 3)
  fi
  [[ $out =~ $semver ]] && v=${BASH_REMATCH[0]}
  if [[ -z $v || $v == 0.0.0* ]] && command -v go >/dev/null 2>&1; then
    out=$(go version -m "$1" 2>/dev/null)
    local re=$'(^|\n)[[:space:]]*mod[[:space:]]+'"${mod//./\\.}"$'[[:space:]]+v('"$semver"')'
    [[ $out =~ $re ]] && v=${BASH_REMATCH[2]}
  fi
  echo "$v"
}

dest_dir=$(cd "$(dirname "$dest")" 2>/dev/null && pwd -P) || dest_dir=$(dirname "$dest")
seen=" "
IFS=: read -r -a dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
  [ -n "$dir" ] && [ -d "$dir" ] || continue
  [ "$(cd "$dir" && pwd -P)" = "$dest_dir" ] && continue
  cand=$dir/$name
  [ -f "$cand" ] && [ -x "$cand" ] || continue
  real=$(readlink -f "$cand")
  [[ $seen == *" $real "* ]] && continue # /bin and /usr/bin are often one directory
  seen+="$real "
  got=$(version_of "$cand")
  if [ "$got" = "$want" ]; then
    mkdir -p "$(dirname "$dest")"
    ln -sfn "$cand" "$dest"
    echo "tools: $name $want found at $cand: linked as $dest instead of building it"
    exit 0
  fi
  echo "tools: $name at $cand is ${got:-of an unknown version}, not the pinned $want: not reused"
done
exit 1
