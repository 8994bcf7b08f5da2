import {bundleFromJSON} from '@sigstore/bundle'
import {Verifier, toSignedEntity} from '@sigstore/verify'

import {type ExpectedSource} from '../profile/user-config.js'
import {type SigstoreTrust} from './sigstore-trust.js'

/**
 * npm provenance (publishing.md §3.3): a Sigstore bundle whose DSSE envelope holds an in-toto
 * statement about the tarball, signed with a short-lived Fulcio certificate issued to the CI
 * workflow that built it and logged in Rekor. Who built it is read from the verified certificate,
 * not from the statement: the statement is only as true as the signature over it.
 */

/** Where a verified provenance says a version was built. */
export interface VerifiedProvenance {
  /** The certificate's identity: `https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1`. */
  identity: string
  /** The OIDC issuer that vouched for it: `https://token.actions.githubusercontent.com`. */
  issuer: string
  /** `https://github.com/o/r`, from the identity. */
  repository: string
  /** `.github/workflows/release.yml`, from the identity. */
  workflow: string
  /** `refs/tags/v1`, from the identity. */
  ref: string
}

/** Provenance that is there but must not be believed; the reason is one line. */
export class InvalidProvenanceError extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'InvalidProvenanceError'
  }
}

/** The CI systems whose provenance npm accepts, and the identity their certificates carry. */
const ISSUERS: ReadonlyArray<{issuer: string; host: string; separator: string}> = [
  // https://github.com/o/r/.github/workflows/x.yml@refs/tags/v1
  {issuer: 'https://token.actions.githubusercontent.com', host: 'https://github.com/', separator: '/.github/'},
  // https://gitlab.com/o/r//.gitlab-ci.yml@refs/heads/main
  {issuer: 'https://gitlab.com', host: 'https://gitlab.com/', separator: '//'},
]

/**
 * Verifies the SLSA provenance among a version's attestations (`GET /-/npm/v1/attestations/<name>@<version>`)
 * against Sigstore's trust root, and checks that it is about exactly `name@version` with these bytes.
 * Undefined when the version has no provenance.
 *
 * @throws InvalidProvenanceError when a signature, the log entry, the certificate or the subject does not hold.
 */
export function verifyNpmProvenance(
  response: unknown,
  subject: {name: string; version: string; integrity: string},
  trust: SigstoreTrust,
): VerifiedProvenance | undefined {
  const attestations = (response as {attestations?: Array<{predicateType?: string; bundle?: unknown}>} | undefined)?.attestations ?? []
  const provenance = attestations.find((attestation) => attestation.predicateType?.startsWith('https://slsa.dev/provenance/'))
  if (!provenance) return undefined
  let signer
  let payload: string
  try {
    const bundle = bundleFromJSON(provenance.bundle)
    if (bundle.content.$case !== 'dsseEnvelope') throw new InvalidProvenanceError('the provenance bundle holds no signed statement')
    payload = bundle.content.dsseEnvelope.payload.toString('utf8')
    // One Rekor entry and one certificate-transparency entry, as `npm audit signatures` requires for keyless bundles.
    signer = new Verifier(trust.material, {tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1}).verify(toSignedEntity(bundle))
  } catch (error) {
    if (error instanceof InvalidProvenanceError) throw error
    throw new InvalidProvenanceError(`the provenance does not verify: ${(error as Error).message}`)
  }
  const statement = parseStatement(payload)
  const expectedName = `pkg:npm/${subject.name}@${subject.version}`
  const claimed = statement.subject?.[0]
  if (claimed?.name !== expectedName) throw new InvalidProvenanceError(`the provenance is about ${claimed?.name ?? 'nothing'}, not ${expectedName}`)
  if (claimed.digest?.sha512 !== integrityToHex(subject.integrity)) throw new InvalidProvenanceError('the provenance is about other bytes than the registry serves')
  return readIdentity(signer.identity?.subjectAlternativeName, signer.identity?.extensions?.issuer)
}

/** Whether a verified provenance names the repository and workflow the user expects to publish from. */
export function isExpectedSource(provenance: VerifiedProvenance, expected: ExpectedSource): boolean {
  return provenance.repository === expected.repository && provenance.workflow === expected.workflow
}

function readIdentity(identity: string | undefined, issuer: string | undefined): VerifiedProvenance {
  const known = ISSUERS.find((candidate) => candidate.issuer === issuer)
  const at = identity?.lastIndexOf('@') ?? -1
  const path = identity?.slice(0, at) ?? ''
  const split = known && path.startsWith(known.host) ? path.indexOf(known.separator, known.host.length) : -1
  if (!identity || !issuer || !known || at < 0 || split < 0) {
    throw new InvalidProvenanceError(`the provenance was signed for ${identity ?? 'no identity'} by ${issuer ?? 'no issuer'}, which is not a CI workflow secure knows`)
  }
  const workflowStart = known.separator === '//' ? split + 2 : split + 1
  return {identity, issuer, repository: path.slice(0, split), workflow: path.slice(workflowStart), ref: identity.slice(at + 1)}
}

interface Statement {
  subject?: Array<{name?: string; digest?: {sha512?: string}}>
}

function parseStatement(payload: string): Statement {
  try {
    return JSON.parse(payload) as Statement
  } catch {
    throw new InvalidProvenanceError('the provenance statement is not JSON')
  }
}

/** Hex of the sha512 in an SRI integrity (`sha512-<base64>`), as statements state digests. */
function integrityToHex(integrity: string): string {
  return Buffer.from(integrity.replace(/^sha512-/, ''), 'base64').toString('hex')
}
