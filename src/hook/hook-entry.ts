// The shell hook's entry point: `node dist/hook/hook-entry.js SHELL DIRECTORY` prints the code that
// activates DIRECTORY's profile in that shell. It runs on a directory change into a profile, so it
// loads no oclif (a bundle of its own), and turns the compile cache on before loading anything else.
const {enableCompileCache} = await import('node:module')
enableCompileCache?.()
const {printActivation} = await import('./activate-directory.js')
process.exitCode = await printActivation(process.argv.slice(2), {...process.env}, process.stdout)
