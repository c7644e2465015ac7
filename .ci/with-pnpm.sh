#!/bin/sh
# Runs "$@" with the pinned pnpm on PATH and dependencies installed, on a machine that has only
# Node.js 20+: corepack (bundled with Node) provides pnpm, with no root and no global install.
set -e
cd "$(dirname "$0")/.."
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0
if [ "$(pnpm --version 2>/dev/null)" != "10.34.9" ]; then
  mkdir -p .ci/bin
  corepack enable --install-directory .ci/bin pnpm
  PATH="$PWD/.ci/bin:$PWD/node_modules/.bin:$PATH"
  export PATH
fi
pnpm install --frozen-lockfile --prefer-offline
exec "$@"
