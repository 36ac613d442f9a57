#!/usr/bin/env bash
# screenshot.sh (make screenshot): starts a fresh local stack, leaves a promotion of
# time-service v1.2.3 waiting for its approval in prod, and takes a PNG of that run's page in the
# Temporal Web UI with Debian's headless chromium (driven by puppeteer-core from npm, installed
# into tools/screenshot/node_modules): its User Metadata tab (summary, details, current details,
# every timer's and activity's summary) into docs/webui-approval.png, and the page it opens on
# (the timeline) into docs/webui-timeline.png ($SCREENSHOT_DIR for another folder). The stack
# is stopped afterwards unless SCREENSHOT_KEEP_STACK=1. Needs chromium (installed with apt-get
# when root, as scripts/deps.sh does), node and npm; not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${SCREENSHOT_DIR:-docs}
tool=tools/screenshot
id=promote-time-service-v1.2.3

step() { printf '\n==> %s\n' "$*"; }
wait_stage() { # wait_stage ID STAGE
  for _ in $(seq 1 300); do
    if bin/starter status "$1" -o json 2>/dev/null | grep -q "\"stage\": \"$2\""; then return 0; fi
    sleep 1
  done
  echo "screenshot: $1 never reached stage $2" >&2; bin/starter status "$1" >&2 || true; exit 1
}

# chromium, node, npm: apt-get installs what is missing when root, else say how.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$EUID" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "screenshot: installing ${missing[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    sudo="sudo "
    [ "$EUID" -ne 0 ] || sudo=""
    echo "screenshot: missing ${missing[*]}; install with: ${sudo}apt-get update && ${sudo}apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
if [ ! -f "$tool/node_modules/puppeteer-core/package.json" ]; then
  step "puppeteer-core from npm into $tool/node_modules (no browser download: it drives /usr/bin/chromium)"
  (cd "$tool" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

bin/sandbox down >/dev/null 2>&1 || true
if [ "${SCREENSHOT_KEEP_STACK:-0}" != 1 ]; then trap 'bin/sandbox down' EXIT; fi
step "start the local stack"
bin/sandbox up --detach
# shellcheck disable=SC1091
source .sandbox/env

step "bootstrap dev, and staging with bob's approval of its plan"
bin/starter bootstrap --env dev --wait --as alice
bin/starter bootstrap --env staging --as alice
wait_stage bootstrap-staging waiting-approval
bin/starter approve bootstrap-staging --as bob --comment "plan reviewed"
bin/starter watch bootstrap-staging

step "CI's build sha-1a2b3c4 runs in dev; its release v1.2.3 goes through staging (90 s soak) and waits in prod"
bin/sandbox image push time-service sha-1a2b3c4
bin/starter promote --service time-service --tag sha-1a2b3c4 --wait --as alice
bin/sandbox image push time-service v1.2.3 --like sha-1a2b3c4
started=$(bin/starter promote --service time-service --tag v1.2.3 --to prod --as alice)
echo "$started"
url=$(grep -o 'http://[^ ]*' <<<"$started" | head -n 1)
[ -n "$url" ] || { echo "screenshot: starter printed no Web UI link" >&2; exit 1; }
wait_stage "$id" waiting-approval
bin/starter status "$id"

step "the run's page in the Web UI: $url"
mkdir -p "$dir"
# Tall enough for every event's summary, the approval's timer last.
SHOT_HEIGHT=1800 node "$tool/shot.js" "$url/user-metadata" "$dir/webui-approval.png" "Current Details" "Waiting for approval in prod" \
  "starter approve $id --as USER" "approval in prod: 0 of 1" "soak in staging" "Follow it"
SHOT_HEIGHT=1100 node "$tool/shot.js" "$url" "$dir/webui-timeline.png" "Timer Started" "starter approve $id --as USER"
