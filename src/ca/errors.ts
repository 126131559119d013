/**
 * The CA's error catalogue: every failure a caller can act on has a stable code
 * (docs/errors.md, "Identity and the CA"). Tests and users match on `code`, never on text.
 */
import { CodedError, type CodeOf } from '../proxy-config/coded-error.js';

/** Stable codes of CA failures, with what each means. */
export const CA_ERRORS = {
  /** The key-encryption key cannot decrypt the stored CA key (wrong --ca-kek-file / BOWLINE_CA_KEK). */
  KEK_MISMATCH: 'BOWLINE_E_CA_KEK_MISMATCH',
  /** The key-encryption key is malformed (must be 32 bytes: raw, hex or base64). */
  KEK_INVALID: 'BOWLINE_E_CA_KEK_INVALID',
  /** The `cacerts` files are missing, unreadable or do not fit together. */
  CACERTS_INVALID: 'BOWLINE_E_CA_CACERTS_INVALID',
  /** Two roots that must be one: cacerts files or a remote cluster under another root than this mesh's (the message names both). */
  ROOT_MISMATCH: 'BOWLINE_E_CA_ROOT_MISMATCH',
  /** The CA state in the store cannot be read. */
  STATE_CORRUPT: 'BOWLINE_E_CA_STATE_CORRUPT',
  /** The store holds data but no CA state: the root was lost; a new one is generated only with --new-root. */
  STATE_MISSING: 'BOWLINE_E_CA_STATE_MISSING',
  /** A CSR that cannot be parsed or whose signature does not verify. */
  CSR_INVALID: 'BOWLINE_E_CA_CSR_INVALID',
  /** A CSR asking for an identity its credential does not allow. */
  CSR_IDENTITY: 'BOWLINE_E_CA_CSR_IDENTITY',
  /** A CSR whose public key type or size the CA does not sign. */
  CSR_KEY: 'BOWLINE_E_CA_CSR_KEY',
  /** A root rotation step called in the wrong phase. */
  ROTATION_STATE: 'BOWLINE_E_CA_ROTATION_STATE',
  /** A bootstrap token that is malformed or whose signature does not verify. */
  TOKEN_INVALID: 'BOWLINE_E_TOKEN_INVALID',
  /** A bootstrap token past its expiry. */
  TOKEN_EXPIRED: 'BOWLINE_E_TOKEN_EXPIRED',
  /** A bootstrap token already used for a first certificate. */
  TOKEN_REPLAYED: 'BOWLINE_E_TOKEN_REPLAYED',
  /** A reusable bootstrap token whose uses are all spent. */
  TOKEN_EXHAUSTED: 'BOWLINE_E_TOKEN_EXHAUSTED',
  /** A certificate request with no usable credential (no token, no client certificate). */
  UNAUTHENTICATED: 'BOWLINE_E_CA_UNAUTHENTICATED',
  /** A CA API request whose body is not the JSON the endpoint expects. */
  BAD_REQUEST: 'BOWLINE_E_CA_BAD_REQUEST',
  /** An admin-only CA operation from a caller that is not an admin. */
  FORBIDDEN: 'BOWLINE_E_CA_FORBIDDEN',
} as const;

/** One of the CA's stable error codes. */
export type CaErrorCode = CodeOf<typeof CA_ERRORS>;

/** A CA failure with a stable code and a sentence saying what to do. */
export class CaError extends CodedError<CaErrorCode> {
  override name = 'CaError';
}

/** True when `err` is a CaError, optionally with the given code. */
export function isCaError(err: unknown, code?: CaErrorCode): err is CaError {
  return err instanceof CaError && (code === undefined || err.code === code);
}
