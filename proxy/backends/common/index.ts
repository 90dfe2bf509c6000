// proxy/backends/common: pure helpers more than one backend uses.
export { base32, hashName } from './chain-hash.ts';
export { RuleApplyError, type RuleApplyErrorFields } from './apply-error.ts';
