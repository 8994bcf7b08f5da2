// The demo's npm registry on 127.0.0.1: what registry.npmjs.org serves for sigstore@0.4.0 (its real
// integrity and Sigstore provenance, from test/fixtures/npm), plus a 0.4.1 as a worm with a stolen
// token would publish it: no provenance, and latest moved onto it. Prints its URL, then
// serves until it is killed.
import {readFile} from 'node:fs/promises'
import {createServer} from 'node:http'

const fixtures = new URL('../../test/fixtures/npm/', import.meta.url)
const attestations = await readFile(new URL('attestations-sigstore-0.4.0.json', fixtures), 'utf8')
const {integrity} = JSON.parse(await readFile(new URL('sigstore-0.4.0.expected.json', fixtures), 'utf8'))
const version = (number, dist) => ({name: 'sigstore', version: number, dist: {tarball: `https://registry.npmjs.org/sigstore/-/sigstore-${number}.tgz`, ...dist}})
const packument = JSON.stringify({
  name: 'sigstore',
  'dist-tags': {latest: '0.4.1'},
  time: {'0.4.0': '2023-01-11T17:31:53.000Z', '0.4.1': new Date(Date.now() - 3_600_000).toISOString()},
  versions: {
    '0.4.0': version('0.4.0', {integrity, attestations: {url: 'https://registry.npmjs.org/-/npm/v1/attestations/sigstore@0.4.0'}}),
    '0.4.1': version('0.4.1', {integrity: `sha512-${Buffer.alloc(64, 'worm').toString('base64')}`}),
  },
})
const documents = new Map([['/sigstore', packument], ['/-/npm/v1/attestations/sigstore@0.4.0', attestations]])
const server = createServer((request, response) => {
  const document = documents.get(request.url ?? '')
  response.writeHead(document ? 200 : 404, {'content-type': 'application/json'}).end(document ?? '{"error":"not found"}')
})
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${server.address().port}/`))
