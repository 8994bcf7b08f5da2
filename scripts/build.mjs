// Bundles src/ into dist/ with esbuild: loading one file per command (plus shared chunks) instead
// of a few hundred modules from node_modules is most of secure's start-up time.
import {readdir, rm} from 'node:fs/promises'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import {build} from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Every .ts file under `directory`, recursively. */
async function sourcesUnder(directory) {
  const entries = await readdir(directory, {recursive: true, withFileTypes: true})
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => join(entry.parentPath, entry.name))
}

await rm(join(root, 'dist'), {recursive: true, force: true})
const shared = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // Bundled CommonJS (oclif, proper-lockfile) calls require(); an ES module has none of its own.
  banner: {js: "import {createRequire as __secureCreateRequire} from 'node:module'; const require = __secureCreateRequire(import.meta.url);"},
  logLevel: 'warning',
}
// The shell hook's entry point runs on directory changes: one file of its own, no oclif, no chunks
// to find and compile (about 10 ms less than the same code split).
await build({...shared, entryPoints: ['src/hook/hook-entry.ts'], outfile: 'dist/hook/hook-entry.js'})
await build({
  ...shared,
  // oclif finds each command at dist/commands/<id>.js (package.json "oclif.commands"), so every
  // command is an entry point of its own, kept at its place in the tree.
  // The masker is an entry point too: bench/masking.js measures it on its own.
  entryPoints: [
    join(root, 'src', 'run.ts'),
    join(root, 'src', 'exec', 'masking.ts'),
    ...(await sourcesUnder(join(root, 'src', 'commands'))),
  ].map((file) => relative(root, file)),
  outbase: 'src',
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  // Shared code (oclif's core above all) lands in chunks loaded once; dynamic imports stay lazy.
  splitting: true,
  // The SDK loads its WebAssembly from beside its own files, and dockerode's ssh2 has native
  // addons: both stay in node_modules (and both are imported only by the commands that need them).
  external: ['@1password/sdk', 'dockerode'],
})
