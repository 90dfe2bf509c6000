// What a tamper check of ipvs mode asks the kernel, per family: an iptables-restore input
// of `-C` (check) lines for the jump rules from the built-in chains and every rule the last
// sync wrote in our chains (ipvs mode keeps few, whatever the number of Services), which
// changes nothing and fails naming the first rule that is gone; and `ipset list -t`, whose
// entry counts must be those of the sets the last sync left. `iptables -t nat -F`, a flush
// of one of our chains, `ipset flush` or `ipset destroy` of one of our sets are noticed.
// Pure.
import { jumpRuleArgs } from '../iptables/render.ts';
import { quote } from '../iptables/rules.ts';
import { ipvsJumpRules } from './iptables.ts';

/** The iptables-restore input checking a family's rules; `written` is the last restore input, jump rules left out. */
export function tamperCheckInput(written: string): string {
  const out: string[] = [];
  let table: string | undefined;
  const close = () => {
    if (table === undefined) return;
    out.push('COMMIT');
    table = undefined;
  };
  for (const line of written.split('\n')) {
    if (line.startsWith('*')) {
      close();
      table = line.slice(1);
      out.push(line, ...ipvsJumpRules.filter((j) => j.table === table).map((j) => `-C ${j.chain} ${jumpRuleArgs(j).map(quote).join(' ')}`));
    } else if (line.startsWith('-A ') && table !== undefined) out.push(line.replace(/^-A /, '-C '));
    else if (line === 'COMMIT') close();
  }
  close();
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

/** `ipset list -t` → entries per set name. */
export function parseIpsetTerse(text: string): Map<string, number> {
  const sets = new Map<string, number>();
  let name: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('Name: ')) {
      name = line.slice(6).trim();
      sets.set(name, 0);
    } else if (line.startsWith('Number of entries: ') && name !== undefined) sets.set(name, Number(line.slice(19)));
  }
  return sets;
}

/** Why the sets differ from what the last sync left (`want`: entries per set name), or undefined when they do not. */
export function setsTampered(have: ReadonlyMap<string, number>, want: ReadonlyMap<string, number>): string | undefined {
  for (const [name, n] of want) {
    const got = have.get(name);
    if (got === undefined) return `ipset ${name} gone`;
    if (got !== n) return `ipset ${name} holds ${got} members, the last sync left ${n}`;
  }
  return undefined;
}
