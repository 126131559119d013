/** Per-route HTTP behaviours the pipeline applies: fault injection, CORS, header operations, retry decisions. */
export { compileFault, rollPercentage, FAULT_FLAG_ABORT, FAULT_FLAG_DELAY, type CompiledFault, type FaultDecision } from './fault.js';
export { compileCors, isPreflight, type CompiledCors, type HeaderPair } from './cors.js';
export { compileHeaderOps, applyHeaderMutation, flatHeaderSink, type CompiledHeaderOps, type HeaderMutation, type HeaderSink } from './headers.js';
export { compileRetryPolicy, shouldRetry, isRetriable, retryBackoffMs, ATTEMPT_COUNT_HEADER, RETRY_ON_CONDITIONS, type AttemptOutcome, type CompiledRetryPolicy } from './retry.js';
