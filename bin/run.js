#!/usr/bin/env node
// Entry point. Kept free of static imports so the version check and the compile cache come first.
const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  process.stderr.write(`secure: error: Node.js >= 22 is required (this is ${process.version})\nhint: run scripts/setup in the secure checkout, then use bin/secure (it fetches Node 24)\n`)
  process.exit(1)
}
// Caches compiled bytecode of secure and its dependencies on disk: every start pays less.
const {enableCompileCache} = await import('node:module')
enableCompileCache?.()
const {execute} = await import('@oclif/core/execute')
await execute({dir: import.meta.url})
