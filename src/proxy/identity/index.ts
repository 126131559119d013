/** The proxy's workload identity: key + CSR, live TLS credentials, rotation, peer checks, first contact. */
export { certificateValidity, LiveCredentials, MODERN_CIPHERS, tlsOptionsFor, type WorkloadCredentials } from './credentials.js';
export { createKeyAndCsr, type KeyAndCsr } from './csr.js';
export { IDENTITY_ERRORS, IdentityError, type IdentityErrorCode } from './errors.js';
export { fetchPinnedRoot, tlsStreamConnector } from './first-contact.js';
export { CertificateRotator, clockSkewFromFresh, freshRenewalDelay, renewalDelay, systemClock, type RotationClock, type RotatorOptions } from './rotation.js';
export { peerSpiffeId, uriSans } from './spiffe.js';
export { readBootstrapToken, type BootstrapTokenInfo } from './token.js';
export { certificateHash, checkPeerIdentity, classifyTlsError, describeTlsError, spiffeServerIdentityCheck, verifyPeerSocket, verifyRootPin, type PeerExpectation, type PeerVerdict } from './verify.js';
