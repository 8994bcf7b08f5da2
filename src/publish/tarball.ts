import {Readable} from 'node:stream'
import {createGunzip} from 'node:zlib'
import {extract} from 'tar-stream'

/** One entry of a package archive. */
export interface TarEntry {
  name: string
  type: string
  size: number
  /** The bytes, for the entries the reader asked to keep. */
  content?: Buffer
}

/**
 * Every entry of a gzipped tar (an npm tarball, a `.crate`), in archive order, with the content of
 * those `keep` selects: read in memory, nothing is written anywhere. Throws when the bytes are not one.
 */
export async function readGzippedTar(bytes: Buffer, keep: (name: string) => boolean): Promise<TarEntry[]> {
  const entries: TarEntry[] = []
  const archive = extract()
  Readable.from(bytes).pipe(createGunzip()).on('error', (error) => archive.destroy(error)).pipe(archive)
  for await (const entry of archive) {
    const {name, type, size} = entry.header
    if (keep(name)) {
      const chunks: Buffer[] = []
      for await (const chunk of entry) chunks.push(chunk as Buffer)
      entries.push({name, type: type ?? 'file', size: size ?? 0, content: Buffer.concat(chunks)})
    } else {
      entry.resume()
      entries.push({name, type: type ?? 'file', size: size ?? 0})
    }
  }
  return entries
}
