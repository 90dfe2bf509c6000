import { describe, expect, it } from 'vitest';
import type { Runner } from '../common/index.ts';
import { Bpftool } from './kernel.ts';

/** bpftool's cgroup show/detach over an in-memory cgroup; `beforeDetach` runs before each detach, as someone else would. */
function cgroupTool(ids: number[], opts: { beforeDetach?: (id: number) => void; refuse?: number } = {}) {
  const attached = new Set(ids);
  const run: Runner = async (_file, args) => {
    if (args[1] === 'cgroup' && args[2] === 'show') {
      return { exitCode: 0, stdout: JSON.stringify([...attached].map((id) => ({ id, attach_type: 'cgroup_inet4_connect', name: `kpng_connect4` }))), stderr: '' };
    }
    const id = Number(args[5]);
    opts.beforeDetach?.(id);
    if (id === opts.refuse) return { exitCode: 255, stdout: '', stderr: 'Error: failed to detach program: Operation not permitted' };
    if (!attached.delete(id)) return { exitCode: 255, stdout: '', stderr: 'Error: failed to detach program: No such file or directory' };
    return { exitCode: 0, stdout: '', stderr: '' };
  };
  return { tool: new Bpftool(run), attached };
}

describe('Bpftool.detachAll', () => {
  it('a program someone else detached meanwhile is not an error; only the ones this call detached are counted', async () => {
    const { tool, attached } = cgroupTool([1, 2, 3], { beforeDetach: (id) => id === 1 && attached.delete(2) });
    expect(await tool.detachAll('/sys/fs/cgroup/node')).toBe(2);
    expect(attached.size).toBe(0);
  });

  it('a detach that fails with the program still attached is an error naming the hook and the cgroup', async () => {
    const { tool, attached } = cgroupTool([1, 2], { refuse: 2 });
    await expect(tool.detachAll('/sys/fs/cgroup/node')).rejects.toThrow(/^KPNG_ERR_EBPF_SETUP: detaching connect4 from \/sys\/fs\/cgroup\/node: bpftool cgroup detach .*Operation not permitted/);
    expect([...attached]).toEqual([2]);
  });
});
