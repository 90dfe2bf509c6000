// The stages the `kpng` command offers. Backends and sources register here.
import { iptablesStage } from '../backends/iptables/index.ts';
import { nftStage } from '../backends/nft/index.ts';
import { userspaceStage } from '../backends/userspace/index.ts';
import { localStage, toApiStage } from './api-stages.ts';
import { backendSinkStage } from './backend-stage.ts';
import { builtinStages, type Stage } from './stages.ts';

export function allStages(): Stage[] {
  return [...builtinStages, localStage, toApiStage, backendSinkStage(iptablesStage), backendSinkStage(nftStage), backendSinkStage(userspaceStage)];
}
