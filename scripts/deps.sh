#!/usr/bin/env bash
# deps.sh [--check]: the system programs idp's local stack and tests run. Missing Debian
# packages are installed with apt-get when root, or through `sudo -n` when sudo asks no
# password; otherwise, and always with --check, it stops at once and prints the exact command.
# terraform (>= 1.10) and Go are not Debian packages at the versions idp needs: it says where
# to get them. `make deps` runs it (demo, sandbox, sandbox-up and test depend on it); so does
# .ci/run, as root on a clean machine. Only bash builtins run until something is missing.
set -uo pipefail

check_only=false
case ${1:-} in
  --check) check_only=true ;;
  "") ;;
  *)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac

# command, Debian package, what needs it
wanted=(
  "git git idp's Git checkouts and the local platform repository"
  "make make the Makefile"
  "etcd etcd-server the local stack's Kubernetes control planes"
  "redis-server redis-server each env's Argo CD"
  "ssh-keygen openssh-client signed approvals (ssh-keygen -Y)"
)

missing_pkgs=() missing_why=()
find_missing() {
  missing_pkgs=() missing_why=()
  local entry cmd pkg why
  for entry in "${wanted[@]}"; do
    read -r cmd pkg why <<<"$entry"
    command -v "$cmd" >/dev/null 2>&1 && continue
    missing_pkgs+=("$pkg")
    missing_why+=("  $cmd ($pkg): $why")
  done
}

fail=0
find_missing
if [ ${#missing_pkgs[@]} -gt 0 ]; then
  sudo=""
  [ "$EUID" -eq 0 ] || sudo="sudo "
  install_cmd="${sudo}apt-get update && ${sudo}apt-get install -y ${missing_pkgs[*]}"
  can_install=false
  if ! $check_only && command -v apt-get >/dev/null 2>&1; then
    if [ "$EUID" -eq 0 ]; then
      can_install=true sudo=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      can_install=true sudo="sudo -n"
    fi
  fi
  if $can_install; then
    echo "deps: installing ${missing_pkgs[*]} with apt-get"
    # shellcheck disable=SC2086 # $sudo is empty or two words
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}" ||
      { echo "deps: apt-get failed; run it yourself: $install_cmd" >&2; exit 1; }
    find_missing
    if [ ${#missing_pkgs[@]} -gt 0 ]; then
      printf 'deps: still missing after apt-get:\n' >&2
      printf '%s\n' "${missing_why[@]}" >&2
      fail=1
    fi
  else
    printf 'deps: missing:\n' >&2
    printf '%s\n' "${missing_why[@]}" >&2
    if command -v apt-get >/dev/null 2>&1; then
      printf 'deps: install them with:\n  %s\n' "$install_cmd" >&2
    else
      printf 'deps: no apt-get here: install them with your package manager (on Debian or Ubuntu: %s)\n' "$install_cmd" >&2
    fi
    fail=1
  fi
fi

terraform_hint="get it from https://developer.hashicorp.com/terraform/install (HashiCorp's apt repository, or the release zip unpacked into /usr/local/bin)"
if ! command -v terraform >/dev/null 2>&1; then
  echo "deps: terraform is not installed: idp runs terraform >= 1.10 (the S3 backend's use_lockfile); $terraform_hint" >&2
  fail=1
else
  tf_out=$(CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null terraform version 2>/dev/null)
  if [[ $tf_out =~ Terraform\ v([0-9]+)\.([0-9]+)\.[0-9]+ ]]; then
    major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
    if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 10 ]; }; then
      echo "deps: terraform is ${BASH_REMATCH[0]#Terraform }, idp needs >= 1.10 (the S3 backend's use_lockfile); $terraform_hint" >&2
      fail=1
    fi
  else
    echo "deps: 'terraform version' printed no version; idp needs terraform >= 1.10; $terraform_hint" >&2
    fail=1
  fi
fi

if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go is not installed: idp needs Go 1.26, from https://go.dev/dl/ (unpacked into /usr/local/go, with /usr/local/go/bin on PATH)" >&2
  fail=1
fi

exit $fail
