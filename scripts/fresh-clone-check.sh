#!/usr/bin/env bash
# The README's quick start on a fresh clone: `git clone`, `npm install`, then
# `npx parley --help`, `npm start`, and the admin commands that `npm start`
# prints, exactly as printed. Clones the committed HEAD of this repository
# into a temporary directory (uncommitted changes are not part of the check).
#
#   scripts/fresh-clone-check.sh          (run by .ci/run; about 2 minutes, most of it npm install)
#
# npm install uses --prefer-offline: packages come from npm's cache when they
# are there, so the check does not depend on the registry being fast.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/parley-fresh-clone.XXXXXX")"
server_pid=""

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    # npm start runs the server under npm and a shell: stop the whole group.
    kill -TERM -- "-$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "fresh-clone check FAILED: $*" >&2
  if [ -f "$work/server.log" ]; then echo "--- npm start output:" >&2; cat "$work/server.log" >&2; fi
  exit 1
}

# A newcomer's shell has none of the project's settings.
unset PARLEY_SERVER PARLEY_ADMIN_KEY PARLEY_DATA_DIR PARLEY_PORT PARLEY_TCP_PORT PARLEY_HOST PARLEY_CHROMIUM || true

step_started=$SECONDS
step() {
  echo "== fresh clone: $1"
  step_started=$SECONDS
}
took() { echo "   ($((SECONDS - step_started)) s)"; }

step "git clone $(git -C "$repo" rev-parse --short HEAD) into $work/parley"
git clone --quiet "$repo" "$work/parley"
cd "$work/parley"
[ ! -e packages/cli/dist ] || fail "the clone already has built files"

step "npm install --prefer-offline"
npm install --prefer-offline --no-audit --no-fund >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "npm install failed"; }
took

step "npx parley --help"
help="$(npx --no-install parley --help)" || fail "npx parley --help failed"
grep -q '^Usage: parley <command>' <<<"$help" || fail "npx parley --help printed: $help"

step "npm start (free ports)"
# The README's `npm start` with ports the machine has free; everything else default.
: >"$work/server.log"
setsid npm start -- --port 0 --tcp-port 0 --log-level warn >"$work/server.log" 2>&1 &
server_pid=$!
deadline=$((SECONDS + 180))
until grep -q 'Try it, in another terminal:' "$work/server.log"; do
  kill -0 "$server_pid" 2>/dev/null || fail "npm start exited"
  [ $SECONDS -lt $deadline ] || fail "npm start printed no banner within 180 s"
  sleep 0.5
done
took
sed -n '/^Parley server running/,$p' "$work/server.log"

step "the commands npm start printed"
# The banner's hint: an `export ...` line (the server is not on the default
# port) and a line of commands. Run them as printed, minus the interactive chat.
export_line="$(grep -E '^  export ' "$work/server.log" | head -n 1 | sed 's/^  //')"
[ -n "$export_line" ] || fail "the banner has no export line"
commands="$(grep -E '^  npx parley user add' "$work/server.log" | head -n 1 | sed -e 's/^  //' -e 's/ && npx parley chat .*$//')"
[ -n "$commands" ] || fail "the banner has no 'npx parley user add' line"
echo "   \$ $export_line"
echo "   \$ $commands"
eval "$export_line"
# `--password` reads one line of stdin each when it is not a terminal.
output="$(printf 'alice secret\nbob secret\n' | { eval "$commands"; } 2>&1)" || fail "the printed commands failed: $output"
echo "$output" | sed 's/^/   /'
grep -q alice <<<"$output" && grep -q bob <<<"$output" || fail "the printed commands did not create alice and bob"
# ...and then alice can sign in to the web app with hers.
signin="$(node -e 'fetch(process.argv[1] + "/dev/signin", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId: "alice", password: "alice secret" }) }).then((r) => process.exit(r.status === 200 ? 0 : 1))' "$PARLEY_SERVER" 2>&1)" || fail "alice cannot sign in with the password set by the printed commands: $signin"

step "npx parley user add carol (README recipe)"
npx --no-install parley user add carol --name Carol | sed 's/^/   /' || fail "npx parley user add carol failed"
health="$(node -e 'fetch(process.argv[1]).then(async (r) => { if (!r.ok) process.exit(1); console.log(await r.text()); })' "$PARLEY_SERVER/healthz")" || fail "/healthz did not answer"
grep -q '"ok"' <<<"$health" || fail "/healthz answered $health"

echo "== fresh clone: OK"
