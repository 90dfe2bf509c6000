// .github/workflows/e2e.yaml, checked here since it only runs on GitHub: its matrix is the
// backends the proxy offers (read from the program by the selection job) × the harness's families, it installs the kind release the node image is pinned
// for, and the make targets it runs exist and write where the report job reads.
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { KIND_VERSION } from '../cluster/index.ts';
import { ipFamilies } from '../config/index.ts';
import { e2eRunDir } from '../e2e/index.ts';
import { repoRoot } from '../k8s-binaries.ts';
import { offeredBackends } from './offered.ts';

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  with?: Record<string, string>;
}
interface Workflow {
  env: Record<string, string>;
  jobs: Record<string, { needs?: string | string[]; strategy?: { matrix: Record<string, string[]> }; steps: Step[] }>;
}

const workflow = parse(await readFile(path.join(repoRoot, '.github/workflows/e2e.yaml'), 'utf8')) as Workflow;
const jobs = workflow.jobs;

describe('.github/workflows/e2e.yaml', () => {
  it('runs every backend the proxy offers × family, on the kind release the node image is pinned for', async () => {
    expect(jobs.e2e?.strategy?.matrix).toEqual({ family: [...ipFamilies], backend: '${{ fromJSON(needs.selection.outputs.backends) }}' });
    // The selection job reads the backends from the program; its command prints exactly the offered ones.
    const selection = jobs.selection as { outputs?: Record<string, string>; steps: Step[] };
    expect(selection.outputs?.backends).toBe('${{ steps.offered.outputs.backends }}');
    const step = selection.steps.find((s) => (s as { id?: string }).id === 'offered');
    const command = /^echo "backends=\$\((.*)\)" >> "\$GITHUB_OUTPUT"$/.exec(step?.run?.trim() ?? '')?.[1];
    expect(command, step?.run).toBeDefined();
    const printed = await execa('bash', ['-c', command ?? 'false'], { cwd: repoRoot, env: { PATH: `${path.join(repoRoot, 'node_modules/.bin')}:${process.env.PATH ?? ''}` } });
    expect(JSON.parse(printed.stdout)).toEqual(await offeredBackends(undefined));
    expect(workflow.env.KIND_VERSION).toBe(KIND_VERSION);
    expect(workflow.env.CI).toBe('true');
  });

  it('verifies the selections first and reports after every run, also failed ones', () => {
    expect(jobs.e2e?.needs).toBe('selection');
    expect(jobs.report?.needs).toBe('e2e');
    expect((jobs.report as { if?: string }).if).toBe('always()');
  });

  it('runs make targets that exist, with the values make expects', async () => {
    const runs = Object.values(jobs).flatMap((job) => job.steps.flatMap((s) => (s.run ?? '').split('\n'))).filter((line) => line.startsWith('make '));
    expect(runs).toEqual(['make e2e-selection show=1', 'make e2e-${{ matrix.family }}-${{ matrix.backend }} n=4', 'make e2e-report']);
    for (const line of runs) {
      const args = line.replace('${{ matrix.family }}', 'dual').replace('${{ matrix.backend }}', 'nft').split(' ').slice(1);
      const dry = await execa('make', ['--no-print-directory', '-n', ...args], { cwd: repoRoot, reject: false });
      expect(dry.exitCode, `${line}: ${dry.stderr}`).toBe(0);
    }
  });

  it('uploads each run from the folder the e2e command writes, named as the report reads it back', () => {
    const upload = jobs.e2e?.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'));
    expect(upload?.with?.name).toBe('${{ matrix.family }}-${{ matrix.backend }}');
    const [folder, excluded] = (upload?.with?.path ?? '').trim().split('\n');
    expect(folder).toBe(`${e2eRunDir('reports/e2e', 'ipv4', 'nft').replace('ipv4-nft', '${{ matrix.family }}-${{ matrix.backend }}')}/`);
    expect(excluded).toBe('!reports/e2e/${{ matrix.family }}-${{ matrix.backend }}/kubeconfig');
    const download = jobs.report?.steps.find((s) => s.uses?.startsWith('actions/download-artifact'));
    expect(download?.with).toEqual({ path: 'reports/e2e' });
  });
});
