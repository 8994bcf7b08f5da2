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
const {run} = await import('../dist/run.js').catch((error) => {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error
  process.stderr.write('secure: error: secure is not built in this checkout\nhint: run scripts/setup\n')
  process.exit(1)
})
try {
  await run(process.argv.slice(2), import.meta.url)
} catch (error) {
  // Commands print their own errors (src/base-command.ts); what reaches here is oclif's own, such as
  // an unknown command. Said the same way: one line, a hint, exit 2.
  if (error?.oclif?.exit === 0) process.exit(0)
  process.stderr.write(`secure: error: ${String(error?.message ?? error).split('\n')[0]}\nhint: see secure --help\n`)
  process.exitCode = error?.oclif?.exit ?? 2
}
// Nothing of secure's should keep the process alive once the command is done, but a request the
// 1Password SDK cannot cancel (after a timeout) can: end the process then, whatever is left open.
// (Unref'd: an ordinary run ends before it fires. Pending output is still written first.)
setTimeout(() => process.exit(), 1000).unref()
