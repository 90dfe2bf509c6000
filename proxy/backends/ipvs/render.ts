// One family's sync as text: the `ipvsadm -R` input, the `ipset restore` input, the
// `iptables-restore --noflush` input and the `ip -batch` input that binds service addresses
// to kube-ipvs0. Each is the difference between what the kernel holds and the plan. A full
// sync reads the kernel back and compares it with the whole plan; a partial sync replans
// the service ports the view's change set names (renderPartial) and writes only the virtual
// servers, real servers, set members and addresses they touched, compared with what the
// last sync wrote. Real servers that leave are drained, not deleted: their weight goes to 0 (no new
// connection), and drain.ts deletes them once their connections are gone. Pure.
import type { IPFamily, NodeView } from '../../model/index.ts';
import type { SavedState } from '../iptables/rules.ts';
import { createLine, diffSets, emptySets, renderIpsetRestore, type SetDelta, type SetMembers } from './ipset.ts';
import { IpvsTable, addReal, addVirtual, attrsDiffer, deleteReal, deleteVirtual, editReal, editVirtual, vsKey, type VirtualServer } from './ipvsadm.ts';
import { renderIpvsIptables } from './iptables.ts';
import { dummyDevice, setDefs, setName, type SetDef } from './names.ts';
import { noneTouched, type PlanIndex } from './plan-index.ts';
import { planPort, planPorts, sumPlans, type FamilyPlan, type NoNodeAccess, type PlanOptions, type PortPlan } from './plan.ts';

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

/** What a partial sync knows of the kernel: what the last sync left there. */
export interface PartialKernel {
  /** The family's virtual servers. */
  ipvs: IpvsTable;
  /** The iptables-restore input last applied, jump rules left out. */
  iptablesText: string;
}

/** One family's inputs for a partial sync. */
export interface PartialRender {
  family: IPFamily;
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

export interface FamilyRender extends PartialRender {
  plan: FamilyPlan;
  /** Each service port's plan (a PlanIndex of them is what the next partial sync starts from). */
  ports: PortPlan[];
}

const prefix = (f: IPFamily) => (f === 'IPv6' ? '/128' : '/32');

/**
 * The ipvsadm lines that turn `have` into `want`; leaving real servers are drained (UDP and
 * SCTP ones deleted at once, as kube-proxy does). With `only`, the virtual servers of those
 * vsKeys alone are compared (`want` holds those of them that stay).
 */
export function diffIpvs(have: IpvsTable, want: ReadonlyMap<string, VirtualServer>, only?: ReadonlySet<string>) {
  const lines: string[] = [];
  const draining: Draining[] = [];
  const undrained: Draining[] = [];
  let vsCount = 0;
  let rsCount = 0;
  const held = only ? [...only].filter((k) => have.services.has(k)).map((k): [string, VirtualServer] => [k, have.services.get(k)!]) : [...have.services];
  for (const [k, vs] of held.sort(([a], [b]) => (a < b ? -1 : 1))) {
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

interface IptablesInputs {
  nonEmpty: (d: SetDef) => boolean;
  noNodeAccess: readonly NoNodeAccess[];
  jumps: boolean;
  existing?: SavedState;
}

function iptablesOf(o: RenderOptions, i: IptablesInputs): string {
  return renderIpvsIptables({
    family: o.family,
    ...(o.clusterCIDRs && { clusterCIDRs: o.clusterCIDRs }),
    ...(o.masqueradeAll !== undefined && { masqueradeAll: o.masqueradeAll }),
    ...(o.masqueradeBit !== undefined && { masqueradeBit: o.masqueradeBit }),
    ...i,
  });
}

const addressLine = (op: 'add' | 'del', a: string, family: IPFamily) => `address ${op} ${a}${prefix(family)} dev ${dummyDevice}`;
const textOf = (lines: readonly string[]) => (lines.length > 0 ? `${lines.join('\n')}\n` : '');

/**
 * Renders one family from the view's family map. Without `kernel`: a fresh node (every
 * line, the dry-run and golden form). With it (a full sync): the differences from what the
 * kernel holds, with the set create lines and the jump rules the kernel lacks.
 */
export function renderFamily(view: NodeView, o: RenderOptions, kernel?: KernelView): FamilyRender {
  const family = o.family;
  const ports = planPorts(view.families[family], o);
  const plan = sumPlans(family, ports).plan;
  const ipvs = diffIpvs(kernel?.ipvs ?? new IpvsTable(), plan.virtualServers);
  const delta = diffSets(kernel?.sets ?? emptySets(family), plan.sets);
  const ipset = renderIpsetRestore(family, delta, true);
  const iptables = iptablesOf(o, {
    nonEmpty: (d) => (plan.sets.get(setName(d, family))?.size ?? 0) > 0,
    noNodeAccess: plan.noNodeAccess,
    jumps: true,
    ...(kernel?.iptablesSaved && { existing: kernel.iptablesSaved }),
  });
  const bound = kernel?.bound ?? new Set<string>();
  const addrLines: string[] = [];
  for (const a of [...bound].sort()) if (!plan.bind.has(a)) addrLines.push(addressLine('del', a, family));
  for (const a of [...plan.bind].sort()) if (!bound.has(a)) addrLines.push(addressLine('add', a, family));
  return {
    family,
    plan,
    ports,
    ipvsadm: ipvs.text,
    ipset,
    iptables,
    addresses: textOf(addrLines),
    draining: ipvs.draining,
    undrained: ipvs.undrained,
    written: { virtualServers: ipvs.virtualServers, realServers: ipvs.realServers, setMembers: delta.add.length + delta.del.length, addresses: addrLines.length },
  };
}

/**
 * A partial sync of one family: the service ports of `changed` (the keys of the view's
 * change set for the family) are replanned into `index`, which held the plan the last sync
 * wrote; only the virtual servers, set members and addresses they asked or ask for are
 * compared, and the iptables rules are written only when they differ from the last ones
 * (a set became empty or non-empty, the node lost or got access to a load balancer IP).
 * `index` holds the new plan afterwards, whether or not the inputs are applied: a failed
 * sync must be followed by a full one.
 */
export function renderPartial(view: NodeView, o: RenderOptions, index: PlanIndex, kernel: PartialKernel, changed: Iterable<string>): PartialRender {
  const family = o.family;
  const fv = view.families[family];
  const touched = noneTouched();
  for (const key of changed) {
    const fp = fv.servicePorts.get(key);
    index.set(key, fp && planPort(fp, o, fv.nodeIPs), touched);
  }
  const want = new Map<string, VirtualServer>();
  for (const k of touched.virtualServers) {
    const vs = index.virtualServer(k);
    if (vs) want.set(k, vs);
  }
  const ipvs = diffIpvs(kernel.ipvs, want, touched.virtualServers);
  // In diffSets' order: per set in definition order, members sorted; deletions, then additions.
  const delta: SetDelta = { add: [], del: [] };
  for (const d of setDefs) {
    const name = setName(d, family);
    const seen = touched.members.get(name);
    if (!seen) continue;
    const sorted = [...seen.keys()].sort();
    for (const m of sorted) if (!seen.get(m) && index.has(name, m)) delta.add.push([name, m]);
    for (const m of sorted) if (seen.get(m) && !index.has(name, m)) delta.del.push([name, m]);
  }
  const ipset = renderIpsetRestore(family, delta, false);
  const text = iptablesOf(o, { nonEmpty: (d) => index.members(setName(d, family)) > 0, noNodeAccess: index.noNodeAccess(), jumps: false });
  const addrLines: string[] = [];
  const addrs = [...touched.addresses.keys()].sort();
  for (const a of addrs) if (touched.addresses.get(a) && !index.isBound(a)) addrLines.push(addressLine('del', a, family));
  for (const a of addrs) if (!touched.addresses.get(a) && index.isBound(a)) addrLines.push(addressLine('add', a, family));
  return {
    family,
    ipvsadm: ipvs.text,
    ipset,
    iptables: text === kernel.iptablesText ? '' : text,
    addresses: textOf(addrLines),
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
