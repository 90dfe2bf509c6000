// The iptables writer: a plan (plan.ts) → `iptables-restore --noflush` input. Per table the
// chain declarations (which also flush them), the jump rules inserted into the built-in
// chains, then the rules: the fixed chains' head, every planned port's dispatch rules and
// own chains, the deletions of stale chains, and the last rules of KUBE-SERVICES and
// KUBE-FORWARD; the canary chain in mangle. Nothing is decided here.
import {
  kubeExternalServicesChain,
  kubeForwardChain,
  kubeletFirewallChain,
  kubeMarkMasqChain,
  kubeNodePortsChain,
  kubePostroutingChain,
  kubeProxyCanaryChain,
  kubeProxyFirewallChain,
  kubeServicesChain,
} from './names.ts';
import { jumpRuleArgs, type IptablesPlan, type JumpRule } from './plan.ts';
import { quote } from './rules.ts';

/** What a restore input held, counted as it was produced. */
export interface RestoreInputSize {
  lines: number;
  bytes: number;
}

/** Lines per chunk of restoreInputChunks (about 64 KiB at kube-proxy's line lengths). */
const chunkLines = 1024;

/**
 * The restore input of a plan, produced table by table and port by port in chunks of whole
 * lines (each ending in a newline), so that it can be written to iptables-restore as it is
 * made: at 10,000 Services the input is ~30 MiB, and holding it as one string (and once
 * more as the buffer written) would double the memory the plan takes. `size` is filled in
 * as the chunks are taken. Joined, the chunks are writeRestoreInput's text.
 */
export function* restoreInputChunks(plan: IptablesPlan, size: RestoreInputSize = { lines: 0, bytes: 0 }): Generator<string, void, undefined> {
  size.lines = 0;
  size.bytes = 0;
  let pending: string[] = [];
  const take = (): string => {
    const chunk = `${pending.join('\n')}\n`;
    size.lines += pending.length;
    size.bytes += Buffer.byteLength(chunk);
    pending = [];
    return chunk;
  };
  for (const line of restoreInputLines(plan)) {
    pending.push(line);
    if (pending.length >= chunkLines) yield take();
  }
  if (pending.length > 0) yield take();
}

/** The restore input of a plan as one string, and its number of lines. */
export function writeRestoreInput(plan: IptablesPlan): { text: string; lines: number } {
  const size = { lines: 0, bytes: 0 };
  const text = [...restoreInputChunks(plan, size)].join('');
  return { text, lines: size.lines };
}

/** A table's lines, between `*name` and COMMIT; nothing at all when it has no lines. */
function* table(name: string, lines: Iterable<string>): Generator<string, void, undefined> {
  let any = false;
  for (const line of lines) {
    if (!any) yield `*${name}`;
    any = true;
    yield line;
  }
  if (any) yield 'COMMIT';
}

const declare = (c: string) => `:${c} - [0:0]`;

function* filterLines(plan: IptablesPlan): Generator<string, void, undefined> {
  const { writeShared, managesKubeletFirewall, canary, fixed } = plan;
  if (writeShared) {
    for (const c of [kubeServicesChain, kubeExternalServicesChain, kubeForwardChain, kubeNodePortsChain, kubeProxyFirewallChain]) yield declare(c);
    if (managesKubeletFirewall) yield declare(kubeletFirewallChain);
  }
  if (canary) yield declare(kubeProxyCanaryChain);
  for (const j of plan.jumps) if (j.table === 'filter') yield jumpLine(j);
  if (writeShared) {
    yield* fixed.filterHead;
    for (const e of plan.ports) yield* e.record.dispatch.filter;
    yield* fixed.filter;
  }
}

function* natLines(plan: IptablesPlan): Generator<string, void, undefined> {
  const { writeShared, canary, fixed } = plan;
  if (writeShared) for (const c of [kubeServicesChain, kubeNodePortsChain, kubePostroutingChain, kubeMarkMasqChain]) yield declare(c);
  if (canary) yield declare(kubeProxyCanaryChain);
  for (const e of plan.ports) if (e.own) for (const c of e.own.chains) yield declare(c);
  for (const c of plan.deletedChains) yield declare(c);
  for (const j of plan.jumps) if (j.table !== 'filter') yield jumpLine(j);
  if (writeShared) yield* fixed.natHead;
  for (const e of plan.ports) {
    if (writeShared) yield* e.record.dispatch.nat;
    if (e.own) yield* e.own.rules;
  }
  for (const c of plan.deletedChains) yield `-X ${c}`;
  if (writeShared) yield* fixed.natTail;
}

/**
 * Every line of the input: per table the chain declarations (which also flush them), the
 * jump rules inserted into the built-in chains, then the rules.
 */
function* restoreInputLines(plan: IptablesPlan): Generator<string, void, undefined> {
  yield* table('filter', filterLines(plan));
  yield* table('nat', natLines(plan));
  if (plan.canary) yield* table('mangle', [declare(kubeProxyCanaryChain)]);
}

const jumpLine = (j: JumpRule) => `-I ${j.chain} ${jumpRuleArgs(j).map(quote).join(' ')}`;
