/**
 * Lets the event loop run. Long synchronous loops in a test call this now and then: vitest's worker
 * reports progress over an RPC that times out after 60 s, and on a loaded machine a stretch of a
 * few seconds of CPU can take longer than that, failing the run on its bookkeeping alone
 * ("Timeout calling onTaskUpdate") with no test failed.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
