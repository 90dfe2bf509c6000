import { describe, expect, it } from 'vitest';
import { UsageError, parseLabArgs } from './cli.ts';

describe('kpng-harness lab arguments', () => {
  it('defaults to iptables, IPv4, 3 nodes, the single model, 3 specs at a time', () => {
    expect(parseLabArgs([])).toMatchObject({ backends: ['iptables'], families: ['ipv4'], nodes: 3, model: 'single-process-per-node', parallel: 3, verbose: false });
  });

  it('takes lists and all', () => {
    expect(parseLabArgs(['--backend', 'nft,iptables', '--family', 'all', '--nodes', '2', '-m', 'split-process-per-node'])).toMatchObject({
      backends: ['nft', 'iptables'],
      families: ['ipv4', 'ipv6', 'dual'],
      nodes: 2,
      model: 'split-process-per-node',
    });
    expect(parseLabArgs(['--backend', 'all']).backends).toBe('all');
    expect(parseLabArgs(['--focus', 'affinity']).focus?.test('session-affinity-nodeport')).toBe(true);
  });

  it.each([
    [['--backend', 'ipfw'], /--backend=ipfw: accepted: iptables, nft, ipvs, userspace/],
    [['--family', 'ipv5'], /--family=ipv5: accepted: ipv4, ipv6, dual/],
    [['--nodes', '0'], /--nodes=0: accepted: a whole number from 1 to 20/],
    [['--model', 'both'], /--model=both: accepted: single-process-per-node, split-process-per-node/],
    [['--parallel', 'x'], /--parallel=x: accepted/],
    [['--focus', '('], /--focus=\(: not a regular expression/],
    [['--colour'], /KPNG_ERR_USAGE: Unknown option '--colour'/],
  ])('rejects %j saying what is accepted', (args, message) => {
    expect(() => parseLabArgs(args)).toThrow(UsageError);
    expect(() => parseLabArgs(args)).toThrow(message);
  });
});
