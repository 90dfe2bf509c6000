// The one runner the backends, the runtime and the harness run programs through: what it
// keeps of a program's output, what it writes to its input, and how a program that does
// not run to an exit comes back (never as a throw).
import { describe, expect, it } from 'vitest';
import { processRunner } from './exec.ts';

const run = processRunner();

describe('processRunner', () => {
  it('captures stdout and stderr as printed, with the exit code', async () => {
    expect(await run('sh', ['-c', 'echo out; echo err >&2; exit 3'])).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('writes input to standard input; without it, the program reads nothing', async () => {
    expect((await run('cat', [], { input: 'a\nb\n' })).stdout).toBe('a\nb\n');
    expect(await run('cat', [])).toEqual({ exitCode: 0, stdout: '', stderr: '' });
  });

  it('writes input chunks to standard input in order, each only once the program took the ones before (a lazy producer is drawn as it reads)', async () => {
    let made = 0;
    function* chunks(): Generator<string> {
      for (let i = 0; i < 64; i++) {
        made++;
        yield `${String(i).padStart(2, '0')}${'x'.repeat(65_533)}\n`;
      }
    }
    // The program reads one line and exits: far fewer chunks are made than the 64 (4 MiB) on offer.
    const r = await run('sh', ['-c', 'head -n 1 | cut -c1-2'], { inputChunks: chunks() });
    expect(r).toMatchObject({ exitCode: 0, stdout: '00\n' });
    expect(made).toBeLessThan(64);
    expect((await run('cat', [], { inputChunks: ['a\nb', '\n', 'c\n'] })).stdout).toBe('a\nb\nc\n');
  });

  it('drops one final newline when asked (the harness reads output so)', async () => {
    expect((await run('printf', ['x\n\n'], { stripFinalNewline: true })).stdout).toBe('x\n');
  });

  it('a program that is not there: no exit code, and why', async () => {
    const r = await run('kpng-no-such-program', ['x']);
    expect(r.exitCode).toBeUndefined();
    expect(r.error).toMatch(/ENOENT/);
    expect(r.stderr).toMatch(/ENOENT/);
  });

  it('a program past its timeout is killed: no exit code, timedOut, the signal', async () => {
    const r = await run('sleep', ['5'], { timeoutMs: 100 });
    expect([r.exitCode, r.timedOut, r.signal]).toEqual([undefined, true, 'SIGTERM']);
  });

  it('env is the whole environment; cwd where it runs; a prefix goes in front', async () => {
    expect((await run('sh', ['-c', 'echo "$A|$HOME"'], { env: { A: '1', PATH: process.env.PATH } })).stdout).toBe('1|\n');
    expect((await run('pwd', [], { cwd: '/tmp' })).stdout).toBe('/tmp\n');
    expect((await processRunner(['env', 'B=2'])('sh', ['-c', 'echo $B'])).stdout).toBe('2\n');
  });
});
