// Waiting in tests that drive real clusters: ask again until there is an answer or time is up.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `step` every `intervalMs` until it returns a value; throws, naming `what`, after `timeoutMs`. */
export async function until<T>(what: string, timeoutMs: number, step: () => Promise<T | undefined>, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await step();
    if (value !== undefined) return value;
    await sleep(intervalMs);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
}
