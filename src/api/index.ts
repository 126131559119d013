/**
 * Bowline's Istio resource model: types, validation with precise errors (file:line:column, field path,
 * stable code), normalisation, legacy conversion and mesh config. api/ imports nothing else of Bowline.
 */
export type { Kind, ObjectMeta, Resource, Violation, ParsedDocument } from './types/meta.js';
export type * from './types/networking.js';
export type * from './types/security.js';
export type * from './types/extensions.js';
export type { MeshConfig } from './types/mesh.js';
export { parseAndValidate, MAX_INPUT_CHARS, MAX_ALIAS_COUNT } from './parse.js';
export { validateObject } from './validate-object.js';
export { normalize } from './normalize.js';
export { parseDuration } from './duration.js';
export { legacyToPeerAuthentication, DEFAULT_ROOT_NAMESPACE } from './legacy.js';
export { kinds, kindNames, isKind, apiVersionsOf, type KindInfo } from './kinds.js';
export { parseMeshConfig, defaultMeshConfig } from './mesh-config.js';
export { checkRe2 } from './re2.js';
export { analyzeDocuments, analyzeResources } from './analyze.js';
export { isMeshConfigMap } from './document.js';
