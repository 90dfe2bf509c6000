// The stages the `kpng` command offers. Backends and sources register here.
import { builtinStages, type Stage } from './stages.ts';

export function allStages(): Stage[] {
  return [...builtinStages];
}
