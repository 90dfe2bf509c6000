// One network namespace of a topology: run commands in it, start processes and echo
// servers in it, make real HTTP/UDP requests from it, and look at its rules and addresses.

import { ProbeError } from './errors.ts';
import type { Runner } from '../../../proxy/exec.ts';
import { type ExecOptions, type ExecResult, type Placement, execIn, runIn, runnerIn } from './exec.ts';
import type { Family } from './ip.ts';
import type { NamespaceRole } from './names.ts';
import { ProbeAgent, ProbeAgentExitedError } from './probe-agent.ts';
import { NsProcess, type SpawnOptions } from './process.ts';
import { programCommand } from './programs.ts';
import type { EchoServerConfig, ProbeOutcome, ProbeRequest } from './probe-protocol.ts';

/** What a namespace needs from its topology. */
export interface NamespaceContext {
  /** The topology's families, primary first. */
  families: readonly Family[];
  /** Records a process so that destroy() ends it. */
  track(process: NsProcess): void;
}

export interface HttpResponse {
  status: number;
  /** Response headers, names in lower case. */
  headers: Record<string, string>;
  body: string;
  /** From the start of the request to the end of the response, measured inside the namespace. */
  elapsedMs: number;
}

export interface UdpReply {
  payload: string;
  /** Where the reply came from, as the socket saw it. */
  from: { address: string; port: number };
  elapsedMs: number;
}

export interface ProbeOptions {
  /** How long to wait for an answer (default 2000 ms). */
  timeoutMs?: number;
  /** Source address to bind to. */
  localAddress?: string;
}

export interface EchoServerPorts {
  /** TCP port for HTTP. */
  http?: number;
  /** UDP port. */
  udp?: number;
}

/** An echo server started by `serve`. */
export interface EchoServer {
  readonly http: number | undefined;
  readonly udp: number | undefined;
  readonly process: NsProcess;
  stop(): Promise<void>;
}

export interface InterfaceAddress {
  ifname: string;
  family: Family;
  address: string;
  prefix: number;
}

const DEFAULT_PROBE_TIMEOUT_MS = 2_000;

export class Namespace {
  /** The logical name (`node-1`, `pod-a`); `net` for the shared network's namespace. */
  readonly name: string;
  /** The kernel namespace name (`ip netns exec <netns> ...`). */
  readonly netns: string;
  readonly role: NamespaceRole;
  protected readonly context: NamespaceContext;
  #agent: Promise<ProbeAgent> | undefined;

  constructor(context: NamespaceContext, role: NamespaceRole, name: string, netns: string) {
    this.context = context;
    this.role = role;
    this.name = name;
    this.netns = netns;
  }

  /**
   * The cgroup every process started here joins (a node's own, shared with its pods, when
   * the topology gives nodes one); undefined: the processes stay in this process's cgroup.
   */
  get cgroup(): string | undefined {
    return undefined;
  }

  /** Runs a command in this namespace and returns its standard output; throws NetnsExecError unless it exits 0. */
  exec(file: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<string> {
    return execIn(this.netns, file, args, this.#placed(options));
  }

  /** Runs a command in this namespace and returns exit code, stdout and stderr whatever the exit code. */
  run(file: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
    return runIn(this.netns, file, args, this.#placed(options));
  }

  /** A Runner (proxy/exec.ts) for programs in this namespace, placed as its processes are: a backend's kernel tools. */
  runner(placement: Placement = {}): Runner {
    return runnerIn(this.netns, this.#placed(placement));
  }

  #placed<T extends Placement>(options: T): T {
    const cgroup = this.cgroup;
    return cgroup === undefined || options.cgroup !== undefined ? options : { ...options, cgroup };
  }

  /** Starts a long-running process in this namespace (in its cgroup, if any); destroy() ends it if nobody did before. */
  spawn(file: string, args: readonly string[] = [], options: SpawnOptions = {}): NsProcess {
    const child = new NsProcess(this.netns, file, args, this.#placed(options));
    this.context.track(child);
    return child;
  }

  /**
   * Starts an echo server in this namespace on the topology's families and resolves once
   * it listens. It answers HTTP GET with {"pod","client","clientPort"} (/healthz: 200 "ok")
   * and UDP datagrams with the same JSON; `pod` is this namespace's logical name.
   */
  async serve(ports: EchoServerPorts): Promise<EchoServer> {
    if (ports.http === undefined && ports.udp === undefined) throw new Error('serve: give an http port, a udp port, or both');
    const config: EchoServerConfig = { name: this.name, families: [...this.context.families], ...ports };
    const command = programCommand('echo-server', JSON.stringify(config));
    // stdin stays open for as long as we live: the server exits when it ends.
    const child = this.spawn(command.file, command.args, { env: command.env, stdin: 'pipe' });
    await child.waitForOutput(/"listening":true/, 15_000);
    return {
      http: ports.http,
      udp: ports.udp,
      process: child,
      stop: async () => {
        await child.stop({ graceMs: 1_000 });
      },
    };
  }

  /**
   * A real HTTP GET from this namespace (a new connection each time, from a long-lived
   * probe process in the namespace; concurrent calls run concurrently). Throws ProbeError (kind refused | unreachable | timeout | reset | error) when there is no answer. */
  async httpGet(url: string, options: ProbeOptions = {}): Promise<HttpResponse> {
    const outcome = await this.probe({ kind: 'http', url, timeoutMs: options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS, ...local(options) });
    if (!outcome.ok) throw this.probeError(outcome, url);
    if (outcome.kind !== 'http') throw new Error(`probe client answered an HTTP request with ${outcome.kind}`);
    return { status: outcome.status, headers: outcome.headers, body: outcome.body, elapsedMs: outcome.elapsedMs };
  }

  /**
   * Sends one UDP datagram from this namespace (from a connected socket, so ICMP port
   * unreachable reads as refused) and waits for one reply. Throws ProbeError when none comes.
   */
  async udpExchange(host: string, port: number, payload: string, options: ProbeOptions & { sourcePort?: number } = {}): Promise<UdpReply> {
    const request: ProbeRequest = {
      kind: 'udp',
      host,
      port,
      payload,
      timeoutMs: options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
      ...(options.sourcePort === undefined ? {} : { sourcePort: options.sourcePort }),
      ...local(options),
    };
    const outcome = await this.probe(request);
    const target = `udp ${host.includes(':') ? `[${host}]` : host}:${port}`;
    if (!outcome.ok) throw this.probeError(outcome, target);
    if (outcome.kind !== 'udp') throw new Error(`probe client answered a UDP request with ${outcome.kind}`);
    return { payload: outcome.payload, from: outcome.from, elapsedMs: outcome.elapsedMs };
  }

  /**
   * Runs a request on this namespace's probe agent, started on first use. When the agent
   * turns out to have died (killed from outside), a new one is started and the request
   * is made once more.
   */
  private async probe(request: ProbeRequest): Promise<ProbeOutcome> {
    const starting = (this.#agent ??= this.#startAgent());
    const agent = await starting;
    try {
      return await agent.request(request);
    } catch (error) {
      if (!(error instanceof ProbeAgentExitedError)) throw error;
      if (this.#agent === starting) this.#agent = this.#startAgent();
      return (await this.#agent).request(request);
    }
  }

  #startAgent(): Promise<ProbeAgent> {
    const starting = ProbeAgent.start((file, args, options) => this.spawn(file, args, options));
    starting.catch(() => {
      if (this.#agent === starting) this.#agent = undefined;
    });
    return starting;
  }

  private probeError(outcome: Extract<ProbeOutcome, { ok: false }>, target: string): ProbeError {
    return new ProbeError({ kind: outcome.failure, namespace: this.netns, target, errno: outcome.errno, elapsedMs: outcome.elapsedMs, detail: outcome.message });
  }

  /** Reads a sysctl (`net.ipv4.ip_forward`). */
  async sysctl(key: string): Promise<string> {
    return (await this.exec('sysctl', ['-n', key])).trim();
  }

  async setSysctl(key: string, value: string | number): Promise<void> {
    await this.exec('sysctl', ['-q', '-w', `${key}=${value}`]);
  }

  /** `iptables-save` (or ip6tables-save; the legacy variant with legacy: true), optionally one table. */
  iptablesSave(options: { family?: Family; legacy?: boolean; table?: string } = {}): Promise<string> {
    const tool = `${options.family === 'ipv6' ? 'ip6tables' : 'iptables'}${options.legacy ? '-legacy' : ''}-save`;
    return this.exec(tool, options.table === undefined ? [] : ['-t', options.table]);
  }

  /** `nft list ruleset`. */
  nftRuleset(): Promise<string> {
    return this.exec('nft', ['list', 'ruleset']);
  }

  /** `conntrack -L` for a family (default IPv4), with extra filter arguments; one entry per line. */
  conntrackList(options: { family?: Family; args?: readonly string[] } = {}): Promise<string> {
    return this.exec('conntrack', ['-L', '-f', options.family ?? 'ipv4', ...(options.args ?? [])]);
  }

  /** The addresses configured in this namespace right now (global scope only), from `ip -j addr`. */
  async listAddresses(): Promise<InterfaceAddress[]> {
    const links = JSON.parse(await this.exec('ip', ['-j', 'addr', 'show'])) as {
      ifname: string;
      addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
    }[];
    return links.flatMap((link) =>
      (link.addr_info ?? [])
        .filter((info) => info.scope === 'global')
        .map((info) => ({ ifname: link.ifname, family: info.family === 'inet6' ? 'ipv6' : 'ipv4', address: info.local, prefix: info.prefixlen }) as const),
    );
  }

  /** `ip route show` for a family (default: the primary one). */
  routes(family: Family = this.context.families[0] ?? 'ipv4'): Promise<string> {
    return this.exec('ip', [family === 'ipv6' ? '-6' : '-4', 'route', 'show']);
  }
}

function local(options: ProbeOptions): { localAddress?: string } {
  return options.localAddress === undefined ? {} : { localAddress: options.localAddress };
}
