/** Bowline's certificate authority: what the control plane imports (see docs/security.md). */
export { CertificateAuthority, type CaOptions, type IssuedCertificate, type RotationPhase, type RotationStatus } from './authority.js';
export { CA_ERRORS, CaError, isCaError, type CaErrorCode } from './errors.js';
export { caHttpHandlers, isLoopback, type CaHttpOptions, type CaRoute } from './http.js';
export { defaultKekPath, loadKek, parseKek, type Kek } from './kek.js';
export { loadCacerts, createRootCa } from './root.js';
export { spiffeId, type WorkloadIdentity } from './spiffe.js';
export { MemoryCaStorage, type CaStorage } from './storage.js';
export { createBootstrapToken, rootCertificateHash, verifyBootstrapToken, type BootstrapClaims, type TokenRequest } from './token.js';
export { answerCsr, createTlsStreamServer, peerChainPem, type CertificateReply } from './stream.js';
export { caApiHandler, caMetrics, startCa, type CaSettings, type RunningCa } from './start.js';
export { SEALED_FIELD, openSecretData, sealSecretData, secretValue, type StoredSecretShape } from './secrets.js';
