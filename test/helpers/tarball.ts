import {gzipSync} from 'node:zlib'
import {pack} from 'tar-stream'

/** A gzipped tar of these files, in this order (an npm tarball, a `.crate`), built in memory. */
export async function gzippedTar(files: Record<string, string | Buffer>): Promise<Buffer> {
  const archive = pack()
  for (const [path, content] of Object.entries(files)) archive.entry({name: path}, content)
  archive.finalize()
  const chunks: Buffer[] = []
  for await (const chunk of archive) chunks.push(chunk as Buffer)
  return gzipSync(Buffer.concat(chunks))
}

/** A package tarball as npm packs it: every entry under package/. */
export async function packageTarball(files: Record<string, string>): Promise<Buffer> {
  return gzippedTar(Object.fromEntries(Object.entries(files).map(([path, content]) => [`package/${path}`, content])))
}
