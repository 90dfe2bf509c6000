// npm run bench:iptables — a benchmark, not a test: N Services × 10 endpoints (N from
// BENCH_SERVICES, default 1000,10000) synced by each named backend in a scratch network
// namespace with the real kernel tools; render, apply and read time, the input handed to
// the kernel tool, and peak RSS, printed as one table; then, per backend and size, start
// (setup + first full sync) → rules or maps filled and one endpoint change → applied,
// p50/p99 over BENCH_ROUNDS changes (default 5), as a Markdown table.
//
//   node proxy/backends/bench/bench.ts iptables-nft iptables-legacy [nft ebpf ...]
//   BENCH_SERVICES=10000 BENCH_ROUNDS=100 node proxy/backends/bench/bench.ts ebpf nft   (npm run bench:ebpf)
//
// Each backend × size runs in a child process of its own, so that peak RSS is that run's.
// Needs root.
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { programEnv } from '../../../harness/lab/netns/index.ts';
import { endpointsPerService, measure, partialRounds, type Measurement, type Row } from './measure.ts';
import { startAndChangeTable, type StartAndChange } from './summary.ts';
import { leftOutOfBench, subjects } from './subjects.ts';
import { errorText } from '../../errors.ts';

const self = fileURLToPath(import.meta.url);
const resultMark = 'BENCH-RESULT ';

async function child(subject: string, services: number): Promise<void> {
  const m = await measure(subject, services);
  process.stdout.write(`${resultMark}${JSON.stringify(m)}\n`);
}

async function main(names: string[]): Promise<number> {
  if (names.length === 0) {
    process.stderr.write(`usage: bench.ts <backend>... (accepted: ${Object.keys(subjects).join(', ')})\n`);
    return 2;
  }
  const refused = names.filter((n) => n in leftOutOfBench);
  if (refused.length > 0) {
    process.stderr.write(errorText('KPNG_ERR_BENCH_BACKEND', `${refused.map((n) => `${n} cannot be benchmarked here: ${leftOutOfBench[n]}`).join('; ')} (accepted: ${Object.keys(subjects).join(', ')})\n`));
    return 2;
  }
  const unknown = names.filter((n) => !(n in subjects));
  if (unknown.length > 0) {
    process.stderr.write(errorText('KPNG_ERR_BENCH_BACKEND', `no benchmark entry ${unknown.join(', ')} (accepted: ${Object.keys(subjects).join(', ')})\n`));
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write(errorText('KPNG_ERR_BENCH_ROOT', 'the benchmark makes a network namespace and runs the kernel tools in it: run it as root\n'));
    return 2;
  }
  const sizes = (process.env.BENCH_SERVICES ?? '1000,10000').split(',').map(Number);
  const rows: Row[] = [];
  const summaries: StartAndChange[] = [];
  for (const services of sizes) {
    for (const name of names) {
      process.stderr.write(`${name}: ${services} Services × ${endpointsPerService} endpoints ...\n`);
      const started = performance.now();
      const r = await execa(process.execPath, [...process.execArgv, self, '--child', name, String(services)], { env: programEnv(), reject: false, stderr: 'inherit' });
      const line = r.stdout.split('\n').find((l) => l.startsWith(resultMark));
      if (r.exitCode !== 0 || line === undefined) {
        process.stderr.write(`${name} at ${services} Services failed (exit ${String(r.exitCode)}):\n${r.stdout}\n`);
        return 1;
      }
      const m = JSON.parse(line.slice(resultMark.length)) as Measurement;
      rows.push(...m.rows);
      summaries.push(m.summary);
      process.stderr.write(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    }
  }
  console.log(`bench: ${endpointsPerService} endpoints per Service, one node, IPv4, node ${process.version}; apply = time in the kernel tool, read = time reading rules back, render = the rest`);
  console.table(rows);
  console.log(`\nstart → filled, and one endpoint change → applied (${partialRounds} changes per size), ${new Date().toISOString().slice(0, 10)}:\n`);
  console.log(startAndChangeTable(summaries));
  return 0;
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  await child(args[1]!, Number(args[2]));
} else {
  process.exitCode = await main(args);
}
