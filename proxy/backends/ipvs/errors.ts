// The error codes only the ipvs backend uses (its descriptor's `errors`); with the proxy's
// table (proxy/errors.ts) they make the one table of codes. It also raises the proxy's
// KPNG_ERR_IPTABLES_RESTORE for the few iptables rules ipvs mode keeps.
import { errorTextOf, type ErrorTable } from '../../errors.ts';

export const ipvsErrors = {
  KPNG_ERR_IPVS_SETUP:
    'the ipvs backend cannot start: a bad option (--ipvs-scheduler, --cluster-cidr, --nodeport-addresses), IPVS does not work on this node (ipvsadm -S -n fails: the kernel needs the ip_vs modules), or kube-ipvs0 cannot be created; the message names what is accepted',
  KPNG_ERR_IPVSADM:
    'ipvsadm -R refused a line of the virtual servers (the message carries its reason): the lines before it are applied, the next sync is full and writes the differences again',
  KPNG_ERR_IPSET_RESTORE:
    'ipset restore refused the sets or their members (the message names the line): the lines before it are applied, the next sync is full and writes the differences again',
  KPNG_ERR_IPVS_ADDRESS: 'ip -batch refused to bind or remove a service address on kube-ipvs0; the next sync is full',
} as const satisfies ErrorTable;

export type IpvsErrorCode = keyof typeof ipvsErrors;

export const ipvsErrorText = errorTextOf(ipvsErrors);
