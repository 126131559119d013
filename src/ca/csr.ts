import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { children, decodeOid, pemToDer, readNode, TAG, type DerNode } from './der.js';
import { CA_ERRORS, CaError } from './errors.js';

/** Subject alternative names found in a CSR's extension request, by kind. */
export interface SubjectAltNames {
  uris: string[];
  dnsNames: string[];
  ips: string[];
  emails: string[];
}

/** A PKCS#10 request whose signature has been verified: its key and the names it asks for. */
export interface VerifiedCsr {
  /** The DER SubjectPublicKeyInfo, copied into the certificate unchanged. */
  spki: Buffer;
  publicKey: KeyObject;
  sans: SubjectAltNames;
}

const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SAN = '2.5.29.17';
const SIGNATURE_HASH: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384', // ecdsa-with-SHA384
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384', // sha384WithRSAEncryption
};

function invalid(msg: string, cause?: unknown): CaError {
  return new CaError(CA_ERRORS.CSR_INVALID, msg, { cause });
}

/** Decodes a GeneralNames SEQUENCE into URIs, DNS names, IPs and e-mails. */
export function decodeGeneralNames(node: DerNode): SubjectAltNames {
  const out: SubjectAltNames = { uris: [], dnsNames: [], ips: [], emails: [] };
  for (const gn of children(node)) {
    const text = gn.content.toString('latin1');
    if (gn.tag === 0x86) out.uris.push(text);
    else if (gn.tag === 0x82) out.dnsNames.push(text);
    else if (gn.tag === 0x81) out.emails.push(text);
    else if (gn.tag === 0x87) out.ips.push(formatIp(gn.content));
    else out.uris.push(`<unsupported name tag 0x${gn.tag.toString(16)}>`);
  }
  return out;
}

function formatIp(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const words: string[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) words.push(b.readUInt16BE(i).toString(16));
  return words.join(':');
}

/** Checks the key the CSR carries: EC P-256/P-384 or RSA >= 2048 bits. */
function checkKey(key: KeyObject): void {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && (d.namedCurve === 'prime256v1' || d.namedCurve === 'secp384r1')) return;
  if (key.asymmetricKeyType === 'rsa' && (d.modulusLength ?? 0) >= 2048) return;
  throw new CaError(CA_ERRORS.CSR_KEY, `unsupported CSR key ${key.asymmetricKeyType} ${d.namedCurve ?? d.modulusLength ?? ''}: use ECDSA P-256 (or P-384, RSA >= 2048)`);
}

/**
 * Parses a PEM or DER PKCS#10 request, verifies its self-signature with node:crypto and returns its
 * key and requested names. Throws CaError CSR_INVALID / CSR_KEY; never trusts an unverified field.
 */
export function verifyCsr(csr: string | Uint8Array): VerifiedCsr {
  let root: DerNode;
  try {
    const der = typeof csr === 'string' ? pemToDer(csr, 'CERTIFICATE REQUEST') : Buffer.from(csr);
    root = readNode(der);
    if (root.tag !== TAG.SEQUENCE || root.raw.length !== der.length) throw new Error('trailing or missing data');
  } catch (err) {
    throw invalid(`CSR is not a PEM/DER PKCS#10 request (${(err as Error).message})`, err);
  }
  let info: DerNode, spkiNode: DerNode, sigAlg: string, sig: Buffer, attrs: DerNode | undefined;
  try {
    const [infoN, algN, sigN] = children(root);
    if (!infoN || !algN || !sigN || sigN.tag !== TAG.BIT_STRING) throw new Error('malformed CertificationRequest');
    info = infoN;
    const fields = children(info);
    spkiNode = fields[2]!;
    if (spkiNode?.tag !== TAG.SEQUENCE) throw new Error('missing subjectPublicKeyInfo');
    attrs = fields.find((f) => f.tag === 0xa0);
    sigAlg = decodeOid(children(algN)[0]!.content);
    sig = sigN.content.subarray(1);
  } catch (err) {
    throw invalid(`CSR structure is malformed (${(err as Error).message})`, err);
  }
  const hash = SIGNATURE_HASH[sigAlg];
  if (!hash) throw new CaError(CA_ERRORS.CSR_KEY, `unsupported CSR signature algorithm ${sigAlg}`);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spkiNode.raw, format: 'der', type: 'spki' });
  } catch (err) {
    throw invalid('CSR public key cannot be read', err);
  }
  checkKey(publicKey);
  if (!verify(hash, info.raw, publicKey, sig)) throw invalid('CSR signature does not verify (the request was altered or signed with another key)');
  return { spki: Buffer.from(spkiNode.raw), publicKey, sans: attrs ? requestedNames(attrs) : { uris: [], dnsNames: [], ips: [], emails: [] } };
}

/** The subjectAltName of the CSR's extensionRequest attribute, if any. */
function requestedNames(attrs: DerNode): SubjectAltNames {
  for (const attr of children(attrs)) {
    const [type, values] = children(attr);
    if (!type || !values || decodeOid(type.content) !== OID_EXTENSION_REQUEST) continue;
    for (const exts of children(values)) {
      for (const ext of children(exts)) {
        const parts = children(ext);
        if (decodeOid(parts[0]!.content) !== OID_SAN) continue;
        const value = parts[parts.length - 1]!;
        return decodeGeneralNames(readNode(value.content));
      }
    }
  }
  return { uris: [], dnsNames: [], ips: [], emails: [] };
}
