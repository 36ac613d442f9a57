#!/usr/bin/env bash
# The DESIGN.md story against a fresh local stack; fails at the first step that does not hold.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
expect_exit() { # expect_exit CODE cmd...
  local want=$1; shift
  set +e; "$@"; local got=$?; set -e
  if [ "$got" != "$want" ]; then echo "demo: expected exit $want from '$*', got $got" >&2; exit 1; fi
}
wait_stage() { # wait_stage ID STAGE
  for _ in $(seq 1 240); do
    if bin/starter status "$1" -o json 2>/dev/null | grep -q "\"stage\": \"$2\""; then return 0; fi
    sleep 1
  done
  echo "demo: $1 never reached stage $2" >&2; bin/starter status "$1" >&2 || true; exit 1
}

bin/sandbox down >/dev/null 2>&1 || true
trap 'bin/sandbox down' EXIT
step "start the local stack"
bin/sandbox up --detach
# shellcheck disable=SC1091
source .sandbox/env

step "bootstrap dev: no plan approval needed"
bin/starter bootstrap --env dev --wait --as alice

for env in staging prod; do
  step "bootstrap $env: the plan waits for a second person"
  bin/starter bootstrap --env "$env" --as alice
  wait_stage "bootstrap-$env" waiting-approval
  bin/starter status "bootstrap-$env"
  step "alice may not approve her own run (four-eyes, exit 2)"
  expect_exit 2 bin/starter approve "bootstrap-$env" --as alice
  step "bob approves exactly the pending plan"
  bin/starter approve "bootstrap-$env" --as bob --comment "plan reviewed"
  bin/starter watch "bootstrap-$env"
  bin/starter status "bootstrap-$env" -o json | grep -q '"stage": "done"'
done

step "a second bootstrap of dev changes nothing"
bin/starter bootstrap --env dev --wait --as alice | tee /dev/stderr | grep -q "no changes"

step "runs, as the Web UI lists them ($TEMPORAL_UI_URL)"
bin/starter list
echo
echo "demo: every step held"
