// What the proxy's start loads: node:http and node:https come from runtime/http.ts as the
// CommonJS modules they are, so Node's fetch implementation (undici, which node:http's ES
// module facade loads) stays out of every start.
import { describe, expect, it } from 'vitest';
import { http, https } from './http.ts';
import { runModuleScript } from './testing.ts';

const startModules = ['../cli.ts', '../cli/registry.ts', './index.ts', '../sources/kube/kube-source.ts', '../sources/kube/client.ts'].map((m) => new URL(m, import.meta.url).href);

/** Node's built-in modules loaded once `code` has run in a fresh process. */
async function builtinsLoadedBy(code: string): Promise<string[]> {
  const r = await runModuleScript(`${code}\nprocess.stdout.write(JSON.stringify(process.moduleLoadList));`);
  if (r.exitCode !== 0) throw new Error(`the script failed (exit ${String(r.exitCode)}): ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

describe('http and https', () => {
  it('are the modules node:http and node:https', async () => {
    expect(http).toBe((await import('node:http')).default);
    expect(https).toBe((await import('node:https')).default);
  });

  it('the modules a start runs, the kube source included, leave undici unloaded', async () => {
    const loaded = await builtinsLoadedBy(startModules.map((m) => `await import(${JSON.stringify(m)});`).join('\n'));
    expect(loaded.some((m) => m.includes('node:http') || m.includes('NativeModule http'))).toBe(true);
    expect(loaded.filter((m) => m.includes('undici'))).toEqual([]);
  });

  it('an ES module import of node:http would load undici (what the first test guards against)', async () => {
    expect((await builtinsLoadedBy("await import('node:http');")).some((m) => m.includes('undici'))).toBe(true);
  });
});
