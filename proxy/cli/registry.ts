// The stages the `kpng` command offers: the built-in ones, the API's, and a `to-<name>`
// stage for every backend registered in proxy/backends/registry.ts.
import { registeredBackends } from '../backends/registry.ts';
import { localStage, toApiStage } from './api-stages.ts';
import { backendSinkStage } from './backend-stage.ts';
import { builtinStages, type Stage } from './stages.ts';

export function allStages(): Stage[] {
  return [...builtinStages, localStage, toApiStage, ...registeredBackends.map(backendSinkStage)];
}
