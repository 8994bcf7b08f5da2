// The shell hook's entry point: `node dist/hook/hook-entry.js SHELL DIRECTORY CACHE` prints the code
// that activates DIRECTORY's profile in that shell, and caches it in CACHE. It runs on a directory
// change into a profile not seen before (or changed), so it loads no oclif (one bundled file of its
// own), and turns the compile cache on before loading anything else.
const {enableCompileCache} = await import('node:module')
enableCompileCache?.()
const {printActivation} = await import('./activate-directory.js')
process.exitCode = await printActivation(process.argv.slice(2), {...process.env}, process.stdout)
