# Sourced by the project's scripts (after lib/node.sh and ensure_node): installs Verdaccio, the local npm
# registry that the publish tests start on 127.0.0.1, into .tools/verdaccio.
# Verdaccio is deliberately kept out of the project's package.json and lock file: it is a large dependency
# tree that only the tests need, and users installing `secure` should never get it.
# shellcheck shell=bash
SECURE_VERDACCIO_VERSION=6.10.4
secure_root=${secure_root:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

# Installs the pinned Verdaccio only when it is not already there at that version (a marker file is written
# after a successful install, so an interrupted install is redone), and exports SECURE_VERDACCIO_BIN.
ensure_verdaccio() {
  local prefix="$secure_root/.tools/verdaccio"
  local marker="$prefix/.installed-version"
  if [ ! -x "$prefix/node_modules/.bin/verdaccio" ] || [ "$(cat "$marker" 2>/dev/null)" != "$SECURE_VERDACCIO_VERSION" ]; then
    command -v npm >/dev/null 2>&1 || { echo "secure: npm is required to install Verdaccio for the tests" >&2; return 1; }
    echo "secure: installing Verdaccio $SECURE_VERDACCIO_VERSION into .tools/verdaccio (test-only registry)" >&2
    rm -rf "$prefix"
    mkdir -p "$prefix"
    # verdaccio-audit depends on `node-fetch@cjs`, a dist-tag that some registries (mirrors serving only
    # `latest`) do not have: npm then fails with ETARGET. Pin the version that tag names on the public registry.
    printf '%s\n' '{"private": true, "overrides": {"node-fetch": "2.7.0"}}' >"$prefix/package.json"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error --save-exact "verdaccio@$SECURE_VERDACCIO_VERSION" >&2 || return 1
    printf '%s\n' "$SECURE_VERDACCIO_VERSION" >"$marker"
  fi
  export SECURE_VERDACCIO_BIN="$prefix/node_modules/.bin/verdaccio"
}
