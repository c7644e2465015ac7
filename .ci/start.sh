#!/bin/sh
# `npm start`: install, build, then run the launcher, showing one line per phase instead of pnpm's,
# turbo's and the native compiler's output (a first start compiles better-sqlite3: minutes of
# compiler lines that tell a new user nothing). Each phase's full output goes to
# $DATA_DIR/start.log (default .data/start.log). When a phase fails, the script names that file,
# prints its last lines and exits with the phase's status. `npm test` and CI (.ci/run) do not come
# through here: they call .ci/with-pnpm.sh directly and show everything.
set -e
cd "$(dirname "$0")/.."

data="${DATA_DIR:-.data}"
# Private, as the launcher wants it (it refuses a data directory other users can read).
[ -d "$data" ] || mkdir -p -m 700 "$data"
log="$data/start.log"
(umask 077 && : >"$log")

# phase <n> <what> <command...>: one line on the terminal, everything else in the log.
phase() {
  n="$1"
  what="$2"
  shift 2
  printf '[%s/3] %s… ' "$n" "$what"
  printf '\n=== [%s/3] %s: %s\n' "$n" "$what" "$*" >>"$log"
  began=$(date +%s)
  status=0
  "$@" >>"$log" 2>&1 </dev/null || status=$?
  took=$(($(date +%s) - began))
  if [ "$status" -ne 0 ]; then
    printf 'FAILED after %ss (exit %s)\n' "$took" "$status"
    printf '\n%s failed; full log: %s — its last lines:\n\n' "$what" "$log" >&2
    tail -n 40 "$log" >&2
    exit "$status"
  fi
  printf 'done in %ss\n' "$took"
}

# Installed before (better-sqlite3 compiled): a quick check. Otherwise say what takes the time.
if ls node_modules/.pnpm/better-sqlite3@*/node_modules/better-sqlite3/build/Release/better_sqlite3.node >/dev/null 2>&1; then
  phase 1 "installing dependencies" sh .ci/with-pnpm.sh true
else
  phase 1 "installing dependencies (first time: ~2 min, compiles better-sqlite3)" sh .ci/with-pnpm.sh true
fi
# with-pnpm.sh may have put the pinned pnpm (corepack) in .ci/bin.
PATH="$PWD/.ci/bin:$PWD/node_modules/.bin:$PATH"
export PATH
phase 2 "building packages" pnpm run build:launch
printf '[3/3] starting… (logs below; Ctrl-C stops everything)\n'
exec node tools/launcher/dist/main.js
