/** The proxy's router: Istio VirtualService semantics over the proxy config's route tables. */
export { compileRouteConfig, type CompileOptions } from './compile.js';
export type { RouteInput, RouteDecision, ForwardDecision, RedirectDecision, DirectDecision, NoRouteDecision, CompiledRoute, CompiledRouteConfig, CompiledMirror } from './types.js';
export { parseQuery, queryValue } from './match.js';
export { stripPort, authorityPort } from './virtual-hosts.js';
