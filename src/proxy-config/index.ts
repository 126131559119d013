/** The proxy configuration schema shared by the proxy (src/proxy) and the push code (src/push). */
export type * from './types.js';
