// SIGTERM while a kernel tool runs: the proxy stops as it means to, instead of being killed
// by execa's child cleanup re-raising the signal. Real processes and real signals: each case
// runs in a fresh node process that starts a tool through execa and signals itself.
import { describe, expect, it } from 'vitest';
import { memoryLogger } from './runtime/log.ts';
import { runModuleScript } from './runtime/testing.ts';
import { stopOnSignals } from './stop-signals.ts';

const stopSignalsModule = new URL('./stop-signals.ts', import.meta.url).href;
const logModule = new URL('./runtime/log.ts', import.meta.url).href;

/** A process with a stop handler installed by `install`, a tool (sleep) running through execa, then SIGTERM twice. */
function signalledWhileToolRuns(install: string) {
  const script = `
    const { execa } = await import('execa');
    const { stopOnSignals } = await import(${JSON.stringify(stopSignalsModule)});
    const { createLogger } = await import(${JSON.stringify(logModule)});
    const logger = createLogger();
    let stopped;
    const stopping = new Promise((resolve) => { stopped = resolve; });
    const removeHandler = ${install};
    const tool = execa('sleep', ['30']);
    tool.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.kill(process.pid, 'SIGTERM');
    await stopping;
    process.kill(process.pid, 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));
    tool.kill();
    removeHandler();
    process.stdout.write('stopped as meant\\n');
  `;
  return runModuleScript(script);
}

describe('stopOnSignals', () => {
  it('SIGTERM while a tool runs stops the proxy through its own stop, and a second one is only logged', async () => {
    const r = await signalledWhileToolRuns('stopOnSignals(logger, () => stopped())');
    expect(r.signal).toBeUndefined();
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('stopped as meant');
    expect(r.stderr).toContain('received SIGTERM, stopping (rules stay in place)');
    expect(r.stderr).toContain('received SIGTERM again; the stop is under way');
  });

  it('a handler that removes itself on the first signal lets the same SIGTERM kill the process (what the first case guards against)', async () => {
    const r = await signalledWhileToolRuns("(process.once('SIGTERM', () => stopped()), () => undefined)");
    expect(r.signal).toBe('SIGTERM');
    expect(r.stdout).toBe('');
  });

  it('removing the handler leaves no listener behind', () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const remove = stopOnSignals(memoryLogger(), () => undefined);
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual([before[0]! + 1, before[1]! + 1]);
    remove();
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
  });
});
