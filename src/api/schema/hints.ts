import { addUnknownFieldHint, isObj } from './walk.js';
import { fieldHome, specSchemas } from './resource.js';
import { formatPath, toCamel } from './dsl.js';
import { didYouMean } from './suggest.js';
import { isKind } from '../kinds.js';

/** Installs the hints that explain likely intent behind unknown fields (imported once for its effect). */
export function installHints(): void {
  if (installed) return;
  installed = true;
  // A StringMatch-shaped value under HTTPRoute.headers: a match condition that lost its place.
  addUnknownFieldHint((key, schema, _path, value) => {
    if (schema.name !== 'Headers' || !isObj(value)) return undefined;
    if (!['exact', 'prefix', 'regex'].some((k) => k in value)) return undefined;
    return `"${key}: {${Object.keys(value).join(', ')}: ...}" looks like a header match condition: it belongs under match: - headers: (an HTTPMatchRequest), not in the rule's header manipulation (headers.request/response)`;
  });
  // A field that exists elsewhere in this kind: probably mis-indented.
  addUnknownFieldHint((key, schema, path, _value, kind) => {
    if (!isKind(kind)) return undefined;
    const camel = toCamel(key);
    if (didYouMean(camel, Object.keys(schema.fields))) return undefined;
    if (path.length === 0 && Object.prototype.hasOwnProperty.call(specSchemas[kind].fields, camel)) {
      return `"${key}" is a field of spec: indent it under spec:`;
    }
    const home = fieldHome(kind, camel);
    if (!home) return undefined;
    if (path.length === 0 && home.owner === 'HTTPRoute') {
      return `"${key}" is a field of an HTTP rule (${home.path}): it probably belongs inside an http rule; check its indentation`;
    }
    return `"${key}" is a field of ${home.owner} (${home.path}), not of ${path.length ? formatPath(path) : 'the document'}: check its indentation`;
  });
}
let installed = false;
