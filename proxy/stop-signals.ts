// SIGINT and SIGTERM stop the proxy; its rules stay in place.
//
// The handler stays installed until the stop has finished, and a signal that comes again
// meanwhile is only logged. A handler that removed itself on the first signal
// (process.once) let a signal that arrived while a kernel tool was running kill the proxy
// in the middle of its stop: execa ends its children when the parent exits through
// signal-exit, which, finding no listener for the signal but its own, raises the signal
// again with its default action. The userspace backend then reset the connections it was
// meant to let finish.
import type { Logger } from './runtime/log.ts';

const stopSignals = ['SIGINT', 'SIGTERM'] as const;

/** Calls `stop` on the first SIGINT or SIGTERM; returns the function that removes the handler. */
export function stopOnSignals(logger: Logger, stop: () => void): () => void {
  let received = false;
  const handler = (sig: NodeJS.Signals) => {
    if (received) {
      logger.info(`received ${sig} again; the stop is under way`);
      return;
    }
    received = true;
    logger.info(`received ${sig}, stopping (rules stay in place)`);
    stop();
  };
  for (const sig of stopSignals) process.on(sig, handler);
  return () => {
    for (const sig of stopSignals) process.off(sig, handler);
  };
}
