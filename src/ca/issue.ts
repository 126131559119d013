import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { bitString, children, decodeOid, derToPem, oid, pemToDer, readNode, seq, time, tlv, TAG, uint, type DerNode } from './der.js';

/**
 * Issuing certificates on the hot path: a Signer (a CA certificate and its key, decoded once)
 * and `issueCertificate`, which encodes the TBSCertificate directly and signs it with node:crypto.
 */

/** A CA certificate with its private key, pre-decoded for fast issuing. */
export interface Signer {
  /** The CA certificate (PEM). */
  certPem: string;
  key: KeyObject;
  /** The CA's subject Name, DER, copied into each certificate's issuer field. */
  subjectDer: Buffer;
  /** The CA's subject key identifier, put in each certificate's authority key identifier. */
  keyId: Buffer;
  notBefore: number;
  notAfter: number;
  /** DER AlgorithmIdentifier of the CA's signatures and the hash it uses. */
  algorithm: { der: Buffer; hash: string };
}

/** What goes into one issued certificate. */
export interface CertificateSpec {
  /** The subject's public key as a DER SubjectPublicKeyInfo (from a CSR or a generated key). */
  spki: Buffer;
  notBefore: number;
  notAfter: number;
  uris?: string[];
  dnsNames?: string[];
  ips?: string[];
  /** Optional subject common name; absent means an empty subject with a critical SAN (SPIFFE X.509-SVID). */
  commonName?: string;
}

const EXT = { BASIC: '2.5.29.19', KEY_USAGE: '2.5.29.15', EKU: '2.5.29.37', SAN: '2.5.29.17', AKI: '2.5.29.35', SKI: '2.5.29.14' };

/** The pieces of a certificate's TBSCertificate needed to sign with it. */
function tbsFields(certDer: Buffer): { subject: DerNode; spki: DerNode; extensions: DerNode | undefined } {
  const tbs = children(readNode(certDer))[0]!;
  const f = children(tbs);
  const i = f[0]!.tag === 0xa0 ? 1 : 0; // explicit version present
  return { subject: f[i + 4]!, spki: f[i + 5]!, extensions: f.find((x) => x.tag === 0xa3) };
}

/** The subject key identifier extension's value, or SHA-1 of the public key bits (RFC 5280 method 1). */
function subjectKeyId(spki: DerNode, extensions: DerNode | undefined): Buffer {
  if (extensions) {
    for (const ext of children(children(extensions)[0]!)) {
      const parts = children(ext);
      if (decodeOid(parts[0]!.content) === EXT.SKI) return Buffer.from(readNode(parts[parts.length - 1]!.content).content);
    }
  }
  const keyBits = children(spki)[1]!.content.subarray(1);
  return createHash('sha1').update(keyBits).digest();
}

/** The signature algorithm for a CA key: ECDSA with SHA-256/384, or RSA PKCS#1 v1.5 with SHA-256. */
export function signatureAlgorithm(key: KeyObject): { der: Buffer; hash: string } {
  if (key.asymmetricKeyType === 'ec') {
    const p384 = key.asymmetricKeyDetails?.namedCurve === 'secp384r1';
    return { der: seq(oid(p384 ? '1.2.840.10045.4.3.3' : '1.2.840.10045.4.3.2')), hash: p384 ? 'sha384' : 'sha256' };
  }
  if (key.asymmetricKeyType === 'rsa') return { der: seq(oid('1.2.840.113549.1.1.11'), tlv(TAG.NULL)), hash: 'sha256' };
  throw new Error(`unsupported CA key type ${key.asymmetricKeyType}`);
}

/** True when the private key belongs to the certificate. */
export function keyMatchesCertificate(certPem: string, key: KeyObject): boolean {
  const certKey = new X509Certificate(certPem).publicKey.export({ format: 'der', type: 'spki' });
  const own = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return certKey.equals(own);
}

/** Decodes a CA certificate and key once for issuing. */
export function makeSigner(certPem: string, keyPem: string | KeyObject): Signer {
  const key = typeof keyPem === 'string' ? createPrivateKey(keyPem) : keyPem;
  const der = pemToDer(certPem, 'CERTIFICATE');
  const { subject, spki, extensions } = tbsFields(der);
  const x = new X509Certificate(der);
  return {
    certPem: derToPem(der, 'CERTIFICATE'),
    key,
    subjectDer: Buffer.from(subject.raw),
    keyId: subjectKeyId(spki, extensions),
    notBefore: Date.parse(x.validFrom),
    notAfter: Date.parse(x.validTo),
    algorithm: signatureAlgorithm(key),
  };
}

/** An IP address as the 4 or 16 bytes of an iPAddress GeneralName. */
export function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) throw new Error(`invalid IP address "${ip}"`);
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    text = text.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(parseInt(w || '0', 16), i * 2));
  return out;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), tlv(TAG.BOOLEAN, Buffer.from([0xff])), tlv(TAG.OCTET_STRING, value)) : seq(oid(id), tlv(TAG.OCTET_STRING, value));
}

/** A random positive 128-bit serial number. */
function serialNumber(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b;
}

/** Encodes and signs an end-entity certificate (CA:false, digitalSignature+keyEncipherment, server+client auth). */
export function issueCertificate(signer: Signer, spec: CertificateSpec): { pem: string; der: Buffer; serial: string } {
  const names = [
    ...(spec.uris ?? []).map((u) => tlv(0x86, Buffer.from(u, 'latin1'))),
    ...(spec.dnsNames ?? []).map((d) => tlv(0x82, Buffer.from(d, 'latin1'))),
    ...(spec.ips ?? []).map((ip) => tlv(0x87, ipBytes(ip))),
  ];
  const subject = spec.commonName ? seq(tlv(TAG.SET, seq(oid('2.5.4.3'), tlv(TAG.UTF8_STRING, Buffer.from(spec.commonName))))) : seq();
  const extensions = [
    extension(EXT.BASIC, true, seq()),
    extension(EXT.KEY_USAGE, true, bitString(Buffer.from([0xa0]), 5)),
    extension(EXT.EKU, false, seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))),
    extension(EXT.AKI, false, seq(tlv(0x80, signer.keyId))),
    ...(names.length ? [extension(EXT.SAN, !spec.commonName, seq(...names))] : []),
  ];
  const serial = serialNumber();
  const tbs = seq(
    tlv(0xa0, uint(Buffer.from([2]))),
    uint(serial),
    signer.algorithm.der,
    signer.subjectDer,
    seq(time(spec.notBefore), time(spec.notAfter)),
    subject,
    spec.spki,
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign(signer.algorithm.hash, tbs, signer.key);
  const der = seq(tbs, signer.algorithm.der, bitString(signature));
  return { der, pem: derToPem(der, 'CERTIFICATE'), serial: serial.toString('hex') };
}
