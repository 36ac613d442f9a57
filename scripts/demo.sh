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
out=$(bin/starter bootstrap --env dev --wait --as alice)
echo "$out"
grep -q "no changes" <<<"$out"

step "Argo CD in dev reports its applications Synced and Healthy"
out=$(bin/starter status bootstrap-dev)
grep "applications Synced and Healthy" <<<"$out"

step "hands-off: CI pushes sha-5d6e7f8 of version-service; its ECR push event starts the promotion, dev turns Healthy with no starter command"
out=$(bin/sandbox image push version-service sha-5d6e7f8)
echo "$out"
grep -q "event: 202 started: started promote-version-service-sha-5d6e7f8" <<<"$out"
wait_stage promote-version-service-sha-5d6e7f8 done
bin/starter status promote-version-service-sha-5d6e7f8
bin/starter status promote-version-service-sha-5d6e7f8 -o json | grep -q '"requester": "idp-watch (ecr push)"'
git --git-dir "${IDP_SANDBOX_GIT#file://}" show main:argocd/applications/dev/version-service.yaml | grep -q "version:sha-5d6e7f8"
step "the same event again (EventBridge delivers at least once) starts nothing: 409"
bin/sandbox image push version-service sha-5d6e7f8 | grep "event: 409 already-started"
bin/starter image-watch status

step "stop the line: bob freezes dev; the next pushed build waits at dev's door"
bin/starter freeze --env dev --reason "demo: stop the line" --as bob
bin/sandbox image push version-service sha-6e7f809 | grep "event: 202 started"
for _ in $(seq 1 120); do
  if bin/starter status promote-version-service-sha-6e7f809 -o json | grep -q '"frozen": "dev is frozen by bob'; then break; fi
  sleep 1
done
bin/starter status promote-version-service-sha-6e7f809 -o json | grep -q '"frozen": "dev is frozen by bob'
bin/starter status promote-version-service-sha-6e7f809
bin/starter freezes
step "bob unfreezes dev: the waiting promotion goes on to Healthy, no worker restart"
bin/starter unfreeze --env dev --as bob
wait_stage promote-version-service-sha-6e7f809 done
git --git-dir "${IDP_SANDBOX_GIT#file://}" show main:argocd/applications/dev/version-service.yaml | grep -q "version:sha-6e7f809"

step "CI pushes sha-1a2b3c4 of time-service without its event (--no-event); promote it to dev by hand"
bin/sandbox image push time-service sha-1a2b3c4 --no-event
bin/starter promote --service time-service --tag sha-1a2b3c4 --wait --as alice

step "CI tags that image v1.2.3; promote it to prod: staging takes it (it runs Healthy in dev) and soaks 90 s, prod waits"
bin/sandbox image push time-service v1.2.3 --like sha-1a2b3c4 --no-event
bin/starter promote --service time-service --tag v1.2.3 --to prod --as alice
wait_stage promote-time-service-v1.2.3 waiting-approval
bin/starter status promote-time-service-v1.2.3
bin/starter status promote-time-service-v1.2.3 -o json | grep -q '"requesterVerified": true' # alice signed the request
step "alice may not approve her own release (four-eyes, exit 2)"
expect_exit 2 bin/starter approve promote-time-service-v1.2.3 --as alice
step "a forged approval, bob's name signed with alice's key, is refused (exit 2, nothing recorded)"
expect_exit 2 bin/starter approve promote-time-service-v1.2.3 --as bob --key "$IDP_KEYS_DIR/alice"
step "bob approves exactly that digest with his own key; the prod branch is merged and Argo CD turns Healthy"
bin/starter approve promote-time-service-v1.2.3 --as bob --comment "release notes read"
bin/starter status promote-time-service-v1.2.3 -o json | grep -q '"verified": true'
bin/starter watch promote-time-service-v1.2.3
bin/starter status promote-time-service-v1.2.3 -o json | grep -q '"stage": "done"'
git --git-dir "${IDP_SANDBOX_GIT#file://}" show main:argocd/applications/prod/time-service.yaml | grep -q "localtime:v1.2.3"

step "CI pushes a broken build sha-9f8e7d6: it turns Degraded in dev and is rolled back to sha-1a2b3c4"
bin/sandbox image push time-service sha-9f8e7d6 --broken --no-event
expect_exit 1 bin/starter promote --service time-service --tag sha-9f8e7d6 --wait --as alice
bin/starter status promote-time-service-sha-9f8e7d6 -o json | grep -q '"state": "rolled-back"'
git --git-dir "${IDP_SANDBOX_GIT#file://}" show main:argocd/applications/dev/time-service.yaml | grep -q "localtime:sha-1a2b3c4"

step "CI tags that build v1.2.4: staging refuses it, it never ran Healthy in dev (exit 1)"
bin/sandbox image push time-service v1.2.4 --like sha-9f8e7d6 --no-event
set +e; out=$(bin/starter promote --service time-service --tag v1.2.4 --wait --as alice 2>&1); got=$?; set -e
echo "$out"
if [ "$got" != 1 ]; then echo "demo: expected exit 1 from promoting v1.2.4, got $got" >&2; exit 1; fi
grep -q "has not run Healthy in dev" <<<"$out"
git --git-dir "${IDP_SANDBOX_GIT#file://}" show main:argocd/applications/staging/time-service.yaml | grep -q "localtime:v1.2.3"

step "a release train: time-service and version-service go to dev together as train-demo-1, all or nothing (--unpin lifts the rollback's pin on time-service)"
bin/sandbox image push time-service sha-2c3d4e5 --no-event
bin/sandbox image push version-service sha-7f8091a --no-event
bin/starter promote --train demo-1 --service time-service=sha-2c3d4e5 --service version-service=sha-7f8091a --unpin --wait --as alice
bin/starter status train-demo-1
bin/starter status train-demo-1 -o json | grep -q '"stage": "done"'
git --git-dir "${IDP_SANDBOX_GIT#file://}" show main:argocd/applications/dev/time-service.yaml | grep -q "localtime:sha-2c3d4e5"
git --git-dir "${IDP_SANDBOX_GIT#file://}" show main:argocd/applications/dev/version-service.yaml | grep -q "version:sha-7f8091a"

step "the worker's metrics ($IDP_SANDBOX_METRICS_URL) count the release, the rollback and the waits"
metrics=$(curl -fsS "$IDP_SANDBOX_METRICS_URL")
grep -E '^idp_promotions_total\{.*env="prod".*outcome="succeeded"' <<<"$metrics"
grep -E '^idp_rollbacks_total\{.*env="dev"' <<<"$metrics"
grep -E '^idp_approval_wait_seconds_count\{.*env="prod".*kind="promote"' <<<"$metrics"
grep -E '^idp_terraform_apply_seconds_count\{.*env="staging"' <<<"$metrics"

step "destroy staging: the destroy plan waits for a second person before anything goes"
bin/starter destroy --env staging --as alice
wait_stage destroy-staging waiting-approval
bin/starter status destroy-staging
expect_exit 2 bin/starter approve destroy-staging --as alice
bin/starter approve destroy-staging --as bob --comment "staging retired"
bin/starter watch destroy-staging
bin/starter status destroy-staging -o json | grep -q '"stage": "done"'
bin/starter status destroy-staging

step "a preview of dev for pull request 7 (its head: main here) with a 1 min time to live (the shortest allowed)"
bin/starter bootstrap --env dev --pr 7 --ttl 1m --branch main --wait --as alice
bin/starter list --previews
bin/starter list --previews -o json | grep -q '"preview": "dev-pr-7"'
step "its time to live runs out: its run starts destroy-dev-pr-7, which takes the preview away and leaves dev as it was"
wait_stage destroy-dev-pr-7 done
bin/starter status destroy-dev-pr-7
if bin/starter list --previews -o json | grep -q dev-pr-7; then echo "demo: dev-pr-7 is still listed" >&2; exit 1; fi
git --git-dir "${IDP_SANDBOX_GIT#file://}" show main:argocd/applications/dev/time-service.yaml | grep -q "localtime:sha-2c3d4e5"

step "runs, as the Web UI lists them ($TEMPORAL_UI_URL)"
bin/starter list
echo
echo "demo: every step held"
