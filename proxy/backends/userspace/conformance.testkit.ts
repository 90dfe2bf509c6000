// The conformance suite's hooks for to-userspace (test support, left out of the image): the
// proxy's sockets carry the traffic, redirected into them by nat rules of one iptables flavour
// that a firewall reload wipes as it wipes iptables'; endpoints see the node, not the client.
import type { ConformanceHooks } from '../conformance/dataplanes.testkit.ts';
import { iptablesHooks } from '../iptables/conformance.testkit.ts';

function userspaceHooks(mode: 'nft' | 'legacy'): ConformanceHooks {
  const { flush, dump } = iptablesHooks(mode);
  return { flush, dump, keepsClientAddress: false };
}

/** Per subject id (userspaceBackend.subjects). */
export const conformanceHooks: Readonly<Record<string, ConformanceHooks>> = {
  'userspace-nft': userspaceHooks('nft'),
  'userspace-legacy': userspaceHooks('legacy'),
};
