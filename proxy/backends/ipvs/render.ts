// One family's sync as text: the `ipvsadm -R` input, the `ipset restore` input, the
// `iptables-restore --noflush` input and the `ip -batch` input that binds service addresses
// to kube-ipvs0. Each is the difference between what the kernel holds (a full sync reads it
// back; a partial sync knows it from the last sync's record) and the plan, so a partial sync
// writes only the virtual servers, real servers, set members and addresses that changed.
// Real servers that leave are drained, not deleted: their weight goes to 0 (no new
// connection), and drain.ts deletes them once their connections are gone. Pure.
import type { IPFamily, LocalState } from '../../model/index.ts';
import type { SavedState } from '../iptables/rules.ts';
import { createLine, diffSets, emptySets, renderIpsetRestore, type SetMembers } from './ipset.ts';
import { IpvsTable, addReal, addVirtual, attrsDiffer, deleteReal, deleteVirtual, editReal, editVirtual, vsKey, type VirtualServer } from './ipvsadm.ts';
import { renderIpvsIptables } from './iptables.ts';
import { dummyDevice, setDefs, setName } from './names.ts';
import { planFamily, type FamilyPlan, type PlanOptions } from './plan.ts';

export interface RenderOptions extends PlanOptions {
  clusterCIDRs?: readonly string[];
  masqueradeAll?: boolean;
  masqueradeBit?: number;
}

/** What the kernel holds of one family, as far as this backend is concerned. */
export interface KernelView {
  /** The family's virtual servers. */
  ipvs: IpvsTable;
  /** Members of our sets (a set missing here is created). */
  sets: SetMembers;
  /** Addresses on kube-ipvs0 of this family. */
  bound: ReadonlySet<string>;
  /** The iptables-restore input last applied (partial syncs skip an unchanged one). */
  iptablesText?: string;
  /** iptables-save scanned (full syncs): only missing jump rules are inserted. */
  iptablesSaved?: SavedState;
}

/** A real server the sync set to weight 0; it goes once its connections have drained. */
export interface Draining {
  virtualServer: string;
  real: string;
}

export interface FamilyRender {
  family: IPFamily;
  plan: FamilyPlan;
  ipvsadm: string;
  ipset: string;
  iptables: string;
  /** `ip -batch -` input: addresses added to and removed from kube-ipvs0. */
  addresses: string;
  /** Real servers this input sets to weight 0. */
  draining: Draining[];
  /** Real servers back in the plan while draining: their weight is 1 again. */
  undrained: Draining[];
  /** Counts of what this input writes. */
  written: { virtualServers: number; realServers: number; setMembers: number; addresses: number };
}

const prefix = (f: IPFamily) => (f === 'IPv6' ? '/128' : '/32');

/** The ipvsadm lines that turn `have` into `want`; leaving real servers are drained (UDP and SCTP ones deleted at once, as kube-proxy does). */
export function diffIpvs(have: IpvsTable, want: ReadonlyMap<string, VirtualServer>) {
  const lines: string[] = [];
  const draining: Draining[] = [];
  const undrained: Draining[] = [];
  let vsCount = 0;
  let rsCount = 0;
  for (const [k, vs] of [...have.services].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (want.has(k)) continue;
    lines.push(deleteVirtual(vs));
    vsCount++;
  }
  for (const k of [...want.keys()].sort()) {
    const vs = want.get(k)!;
    const cur = have.services.get(k);
    if (!cur) {
      lines.push(addVirtual(vs));
      vsCount++;
      for (const rk of [...vs.reals.keys()].sort()) {
        lines.push(addReal(vs, vs.reals.get(rk)!));
        rsCount++;
      }
      continue;
    }
    if (attrsDiffer(cur, vs)) {
      lines.push(editVirtual(vs));
      vsCount++;
    }
    for (const rk of [...vs.reals.keys()].sort()) {
      const rs = vs.reals.get(rk)!;
      const now = cur.reals.get(rk);
      if (!now) lines.push(addReal(vs, rs));
      else if (now.weight !== rs.weight) {
        lines.push(editReal(vs, rs));
        if (now.weight === 0) undrained.push({ virtualServer: k, real: rk });
      } else continue;
      rsCount++;
    }
    for (const rk of [...cur.reals.keys()].sort()) {
      if (vs.reals.has(rk)) continue;
      const rs = cur.reals.get(rk)!;
      if (vs.protocol !== 'TCP') lines.push(deleteReal(vs, rs));
      else if (rs.weight !== 0) {
        lines.push(editReal(vs, { ...rs, weight: 0 }));
        draining.push({ virtualServer: k, real: rk });
      } else continue; // already draining: drain.ts deletes it
      rsCount++;
    }
  }
  return { text: lines.length > 0 ? `${lines.join('\n')}\n` : '', draining, undrained, virtualServers: vsCount, realServers: rsCount };
}

/**
 * Renders one family. Without `kernel`: a fresh node (every line, the dry-run and golden
 * form). With it: only the differences; `full` adds the set create lines and the jump rules.
 */
export function renderFamily(state: LocalState, o: RenderOptions, kernel?: KernelView, full = true): FamilyRender {
  const family = o.family;
  const plan = planFamily(state, o);
  const ipvs = diffIpvs(kernel?.ipvs ?? new IpvsTable(), plan.virtualServers);
  const delta = diffSets(kernel?.sets ?? emptySets(family), plan.sets);
  const missingSet = kernel ? setDefs.some((d) => !kernel.sets.has(setName(d, family))) : true;
  let ipset = renderIpsetRestore(family, delta, full || missingSet);
  if (!full && !missingSet && delta.add.length + delta.del.length === 0) ipset = '';
  const iptablesFull = renderIpvsIptables({
    family,
    ...(o.clusterCIDRs && { clusterCIDRs: o.clusterCIDRs }),
    ...(o.masqueradeAll !== undefined && { masqueradeAll: o.masqueradeAll }),
    ...(o.masqueradeBit !== undefined && { masqueradeBit: o.masqueradeBit }),
    nonEmpty: (d) => (plan.sets.get(setName(d, family))?.size ?? 0) > 0,
    noNodeAccess: plan.noNodeAccess,
    jumps: full,
    ...(kernel?.iptablesSaved && { existing: kernel.iptablesSaved }),
  });
  // A partial sync leaves unchanged rules alone (the jump rules are written by full syncs only).
  const iptables = !full && kernel?.iptablesText === iptablesFull ? '' : iptablesFull;
  const bound = kernel?.bound ?? new Set<string>();
  const addrLines: string[] = [];
  for (const a of [...bound].sort()) if (!plan.bind.has(a)) addrLines.push(`address del ${a}${prefix(family)} dev ${dummyDevice}`);
  for (const a of [...plan.bind].sort()) if (!bound.has(a)) addrLines.push(`address add ${a}${prefix(family)} dev ${dummyDevice}`);
  return {
    family,
    plan,
    ipvsadm: ipvs.text,
    ipset,
    iptables,
    addresses: addrLines.length > 0 ? `${addrLines.join('\n')}\n` : '',
    draining: ipvs.draining,
    undrained: ipvs.undrained,
    written: { virtualServers: ipvs.virtualServers, realServers: ipvs.realServers, setMembers: delta.add.length + delta.del.length, addresses: addrLines.length },
  };
}

/** The set create lines of a family (setup). */
export function createSets(family: IPFamily): string {
  return `${setDefs.map((d) => createLine(d, family)).join('\n')}\n`;
}

/** The virtual servers of one family in a table holding both. */
export function familyTable(table: IpvsTable, family: IPFamily): IpvsTable {
  const t = new IpvsTable();
  for (const [k, vs] of table.services) if (vs.address.includes(':') === (family === 'IPv6')) t.services.set(k, vs);
  return t;
}

export { vsKey };
