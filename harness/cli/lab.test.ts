import { describe, expect, it } from 'vitest';
import { KpngError, backendNames } from '../config/index.ts';
import { parseLabArgs } from './lab.ts';

describe('kpng-harness lab options', () => {
  it('defaults to every backend the proxy offers, every family, 3 nodes, the single model, 3 specs at a time', () => {
    expect(parseLabArgs([], '/repo')).toMatchObject({ backends: undefined, families: ['ipv4', 'ipv6', 'dual'], nodes: 3, model: 'single-process-per-node', parallel: 3, results: '/repo/reports/lab', verbose: false });
  });

  it('takes repeated backends and families, and the model, nodes, focus and results folder', () => {
    const cmd = parseLabArgs(['--backend', 'nft', '--backend', 'iptables', '--family', 'dual', '--nodes', '2', '--model', 'split-process-per-node', '--focus', 'affinity', '--results', '/tmp/r'], '/repo');
    expect(cmd).toMatchObject({ backends: ['nft', 'iptables'], families: ['dual'], nodes: 2, model: 'split-process-per-node', results: '/tmp/r' });
    expect(cmd.focus?.test('session-affinity-nodeport')).toBe(true);
  });

  it.each([
    [['--backend', 'ipfw'], new RegExp(`KPNG_ERR_USAGE: lab: --backend "ipfw" is not accepted.*; accepted: ${backendNames().join(', ')}$`)],
    [['--family', 'ipv5'], /--family "ipv5" is not accepted.*; accepted: ipv4, ipv6, dual/],
    [['--nodes', '0'], /--nodes "0" is not accepted; accepted: a whole number from 1 to 20/],
    [['--parallel', 'x'], /--parallel "x" is not accepted; accepted: a whole number from 1 to 16/],
    [['--model', 'both'], /--model "both" is not accepted.*; accepted: single-process-per-node, split-process-per-node/],
    [['--focus', '('], /--focus "\(" is not a regular expression/],
    [['--node', '2'], /unknown option --node \(did you mean --nodes\?\)/],
  ])('rejects %j saying what is accepted (exit 2)', (args, message) => {
    let error: unknown;
    try {
      parseLabArgs(args, '/repo');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KpngError);
    expect((error as KpngError).exitCode).toBe(2);
    expect((error as Error).message).toMatch(message);
  });
});
