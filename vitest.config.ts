import { defineConfig } from 'vitest/config';
import { tierPlan } from './harness/testing/tiers.ts';

// Every tier, one command (harness/testing/tiers.ts; an opt-in tier only by --project). A
// tier that cannot run here is announced in one loud line and left out, except under
// CI=true, where it runs anyway and fails.
const plan = tierPlan();

export default defineConfig({
  test: {
    projects: plan.map((tier) => ({
      test: {
        name: tier.name,
        include: tier.include,
        exclude: tier.exclude,
        testTimeout: tier.testTimeout,
        hookTimeout: tier.testTimeout,
        fileParallelism: tier.fileParallelism,
        globalSetup: tier.globalSetup,
        sequence: { groupOrder: tier.groupOrder },
      },
    })),
  },
});
