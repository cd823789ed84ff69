#!/usr/bin/env bash
# Every run-time dependency is declared: packs each workspace package as npm
# would publish it, installs the tarballs into an empty directory with
# `npm install --omit=dev` (no devDependencies, no hoisting from the
# monorepo), then starts `parley start` on free ports and checks that
# /healthz answers, the web app is served, an admin command works, and both
# SDK entries load.
#
#   npm run build && scripts/omit-dev-check.sh    (run by .ci/run; about 2 minutes, most of it compiling better-sqlite3)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/parley-omit-dev.XXXXXX")"
server_pid=""

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "omit-dev check FAILED: $*" >&2
  if [ -f "$work/server.log" ]; then echo "--- parley start output:" >&2; cat "$work/server.log" >&2; fi
  exit 1
}

unset PARLEY_SERVER PARLEY_ADMIN_KEY PARLEY_DATA_DIR PARLEY_PORT PARLEY_TCP_PORT PARLEY_HOST || true
packages=(protocol server client cli web)

[ -f "$repo/packages/cli/dist/src/main.js" ] && [ -f "$repo/packages/web/dist/index.html" ] || fail "build first: npm run build"

echo "== omit-dev: npm pack ${packages[*]}"
mkdir -p "$work/tarballs" "$work/app"
(cd "$repo" && npm pack --silent --pack-destination "$work/tarballs" $(printf -- '-w @parley/%s ' "${packages[@]}") >/dev/null)

# An application that depends on the packed tarballs, and nothing else.
node - "$work" "${packages[@]}" <<'EOF'
const { readdirSync, writeFileSync } = require('node:fs');
const [work, ...packages] = process.argv.slice(2);
const tarballs = readdirSync(`${work}/tarballs`);
const dependencies = {};
for (const name of packages) {
  const file = tarballs.find((tarball) => tarball.startsWith(`parley-${name}-`));
  if (file === undefined) throw new Error(`no tarball for @parley/${name}`);
  dependencies[`@parley/${name}`] = `file:../tarballs/${file}`;
}
writeFileSync(`${work}/app/package.json`, JSON.stringify({ name: 'omit-dev-check', private: true, type: 'module', dependencies }, null, 2));
EOF

echo "== omit-dev: npm install --omit=dev --prefer-offline"
started=$SECONDS
(cd "$work/app" && npm install --omit=dev --prefer-offline --no-audit --no-fund >"$work/install.log" 2>&1) || { cat "$work/install.log" >&2; fail "npm install --omit=dev failed"; }
echo "   ($((SECONDS - started)) s)"
cd "$work/app"
for dev in typescript tsx playwright-core @sparticuz/chromium vite ts-proto @bufbuild/buf; do
  [ ! -e "node_modules/$dev" ] || fail "devDependency $dev was installed"
done

echo "== omit-dev: both SDK entries load"
node --input-type=module -e "
const client = await import('@parley/client');
if (typeof client.ParleyClient !== 'function') throw new Error('no ParleyClient');
const protocol = await import('@parley/protocol');
if (Object.keys(protocol).length === 0) throw new Error('empty @parley/protocol');
const server = await import('@parley/server');
if (typeof server.startServer !== 'function') throw new Error('no startServer');
" || fail "importing the packages failed"
node --conditions=browser --input-type=module -e "
const client = await import('@parley/client');
if (typeof client.ParleyClient !== 'function') throw new Error('no ParleyClient in the browser entry');
" || fail "importing the browser entry failed"

echo "== omit-dev: parley start on free ports"
: >"$work/server.log"
node_modules/.bin/parley start --port 0 --tcp-port 0 --data-dir ./data --log-level warn >"$work/server.log" 2>&1 &
server_pid=$!
deadline=$((SECONDS + 60))
until grep -q 'Try it, in another terminal:' "$work/server.log"; do
  kill -0 "$server_pid" 2>/dev/null || fail "parley start exited"
  [ $SECONDS -lt $deadline ] || fail "parley start printed no banner within 60 s"
  sleep 0.3
done
http_url="$(sed -n 's/^  HTTP *\(http[^ ]*\).*/\1/p' "$work/server.log" | head -n 1)"
[ -n "$http_url" ] || fail "no HTTP address in the banner"
echo "   $http_url"

node --input-type=module - "$http_url" <<'EOF' || fail "the server did not answer as expected"
const base = process.argv[2];
const health = await fetch(`${base}/healthz`);
const body = await health.json();
if (health.status !== 200 || body.status !== 'ok') throw new Error(`/healthz: ${health.status} ${JSON.stringify(body)}`);
const page = await fetch(`${base}/`);
const html = await page.text();
if (page.status !== 200 || !html.includes('<div id="app">')) throw new Error(`/ did not serve the web app (${page.status})`);
console.log(`   /healthz ${JSON.stringify(body)}; / serves the web app`);
EOF
PARLEY_SERVER="$http_url" PARLEY_DATA_DIR=./data node_modules/.bin/parley user add alice --name Alice | sed 's/^/   /' || fail "parley user add failed"

echo "== omit-dev: OK"
