import {readFile} from 'node:fs/promises'
import {describe, expect, it} from 'vitest'

import {InvalidProvenanceError, isExpectedSource, verifyNpmProvenance} from '../../src/watch/provenance.js'
import {shippedSigstoreTrust} from '../../src/watch/sigstore-trust.js'

const fixture = (name: string) => new URL(`../fixtures/npm/${name}`, import.meta.url)
/** The registry's real attestations for sigstore@0.4.0 (SLSA v0.2 provenance from GitHub Actions, and npm's publish attestation). */
const attestations = JSON.parse(await readFile(fixture('attestations-sigstore-0.4.0.json'), 'utf8')) as {attestations: Array<{predicateType: string; bundle: {dsseEnvelope: {payload: string}}}>}
const expected = JSON.parse(await readFile(fixture('sigstore-0.4.0.expected.json'), 'utf8')) as {integrity: string; provenance: Record<string, string>}
const subject = {name: 'sigstore', version: '0.4.0', integrity: expected.integrity}
const trust = shippedSigstoreTrust()

/** The attestations with the provenance statement rewritten by `edit`, its signature left as it was. */
function withStatement(edit: (statement: string) => string) {
  const copy = structuredClone(attestations)
  const provenance = copy.attestations.find((attestation) => attestation.predicateType.startsWith('https://slsa.dev/provenance/'))!
  provenance.bundle.dsseEnvelope.payload = Buffer.from(edit(Buffer.from(provenance.bundle.dsseEnvelope.payload, 'base64').toString('utf8'))).toString('base64')
  return copy
}

describe('verifyNpmProvenance', () => {
  it('verifies real provenance offline and reads who built it from the certificate', () => {
    const provenance = verifyNpmProvenance(attestations, subject, trust)

    expect(provenance).toEqual({
      identity: expected.provenance.certificateSAN,
      issuer: expected.provenance.certificateIssuer,
      repository: expected.provenance.repository,
      workflow: expected.provenance.workflowPath,
      ref: expected.provenance.workflowRef,
    })
    expect(isExpectedSource(provenance!, {repository: 'https://github.com/sigstore/sigstore-js', workflow: '.github/workflows/publish.yml'})).toBe(true)
    expect(isExpectedSource(provenance!, {repository: 'https://github.com/sigstore/sigstore-js', workflow: '.github/workflows/ci.yml'})).toBe(false)
    expect(isExpectedSource(provenance!, {repository: 'https://github.com/attacker/sigstore-js', workflow: '.github/workflows/publish.yml'})).toBe(false)
  })

  it('refuses a statement changed after signing (here: another run id)', () => {
    const tampered = withStatement((statement) => statement.replace(expected.provenance.runId!, '3895197726'))

    expect(() => verifyNpmProvenance(tampered, subject, trust)).toThrow(InvalidProvenanceError)
    expect(() => verifyNpmProvenance(tampered, subject, trust)).toThrow(/does not verify/)
  })

  it('refuses provenance that is about other bytes, or another package or version', () => {
    const otherBytes = {...subject, integrity: `sha512-${Buffer.alloc(64, 7).toString('base64')}`}

    expect(() => verifyNpmProvenance(attestations, otherBytes, trust)).toThrow('the provenance is about other bytes than the registry serves')
    expect(() => verifyNpmProvenance(attestations, {...subject, version: '0.4.1'}, trust)).toThrow('the provenance is about pkg:npm/sigstore@0.4.0, not pkg:npm/sigstore@0.4.1')
    expect(() => verifyNpmProvenance(attestations, {...subject, name: 'sigstore-evil'}, trust)).toThrow(/not pkg:npm\/sigstore-evil@0.4.0/)
  })

  it('refuses a bundle that is not a Sigstore bundle', () => {
    const broken = {attestations: [{predicateType: 'https://slsa.dev/provenance/v1', bundle: {mediaType: 'nonsense'}}]}

    expect(() => verifyNpmProvenance(broken, subject, trust)).toThrow(InvalidProvenanceError)
  })

  it('finds no provenance where the registry has only other attestations', () => {
    const publishOnly = {attestations: attestations.attestations.filter((attestation) => !attestation.predicateType.startsWith('https://slsa.dev/'))}

    expect(publishOnly.attestations).toHaveLength(1)
    expect(verifyNpmProvenance(publishOnly, subject, trust)).toBeUndefined()
  })
})
