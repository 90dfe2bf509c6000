// How the lab's small programs (echo server, API relay) talk to the process that started
// them: one JSON line once every socket is bound, then they live as long as their parent.

/**
 * Wait for `bound`, then print {"listening":true,"pid":N} (or {"listening":false,"error":...}
 * and exit 1), and exit 0 when standard input ends (the parent is gone) or on SIGTERM/SIGINT.
 */
export async function announceAndServe(bound: Promise<unknown>): Promise<void> {
  try {
    await bound;
    process.stdout.write(`${JSON.stringify({ listening: true, pid: process.pid })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ listening: false, error: String(error) })}\n`);
    process.exit(1);
  }
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
}
