// proxy/backends/common: pure helpers more than one backend uses, and the tool runner.
export { base32, hashName } from './chain-hash.ts';
export { RuleApplyError, type RuleApplyErrorFields } from './apply-error.ts';
export { processRunner, netnsRunner, type Runner, type RunResult, type RunOptions } from './exec.ts';
export { readHostAddresses } from './host-addresses.ts';
export { nodePortAddressesFlag, clusterCIDRFlag, masqueradeAllFlag, masqueradeBitFlag, ipFamiliesFlag, parseFamilies, parseMasqueradeBit, checkAddressFlags, ruleBackendOptions } from './flags.ts';
export { LeftOut, errServicePortRefused, findRefused, firstErrorLine, unrenderable, withPorts, type PortsCheck, type Refusal } from './left-out.ts';
export { netfilterHostMounts, netfilterPackages } from './netfilter-pod.ts';
