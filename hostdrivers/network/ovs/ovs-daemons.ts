// The Open vSwitch daemons the ovs driver talks to: an ovsdb-server and an ovs-vswitchd with their
// own run directory (sockets, pid files, database, logs). The driver uses the daemons already
// running there, or starts them (database created on first use) — under the node's data dir by
// default, so a node never touches a system OVS it was not pointed at. Bridges use the userspace
// (netdev) datapath: this kernel has no openvswitch module, and netdev works everywhere.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../runtime/log/logger.ts';
import { run, type RunResult } from '../exec.ts';

const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

export class OvsDaemons {
  readonly rundir: string;
  /** The run directory is prismnet's own (under its state dir): teardown may stop its daemons. */
  readonly owned: boolean;
  readonly #log: Logger;

  constructor(rundir: string, owned: boolean, log: Logger) {
    this.rundir = rundir;
    this.owned = owned;
    this.#log = log;
  }

  get #env(): Record<string, string> {
    return { OVS_RUNDIR: this.rundir, OVS_DBDIR: this.rundir, OVS_LOGDIR: this.rundir };
  }

  get #db(): string {
    return `unix:${join(this.rundir, 'db.sock')}`;
  }

  /** Starts whichever daemon is not answering. */
  async ensure(): Promise<void> {
    if (!(await this.#answers('ovsdb-server'))) {
      mkdirSync(this.rundir, { recursive: true });
      const dbFile = join(this.rundir, 'conf.db');
      if (!existsSync(dbFile)) await run('ovsdb-tool', ['create', dbFile, SCHEMA]);
      await run('ovsdb-server', [dbFile, `--remote=punix:${join(this.rundir, 'db.sock')}`, `--pidfile=${join(this.rundir, 'ovsdb-server.pid')}`, `--unixctl=${join(this.rundir, 'ovsdb-server.ctl')}`, `--log-file=${join(this.rundir, 'ovsdb-server.log')}`, '--detach', '--no-chdir'], { env: this.#env });
      await this.vsctl(['--no-wait', 'init']);
      this.#log.info({ rundir: this.rundir }, 'prismnet ovs: ovsdb-server started');
    }
    if (!(await this.#answers('ovs-vswitchd'))) {
      await run('ovs-vswitchd', [this.#db, `--pidfile=${join(this.rundir, 'ovs-vswitchd.pid')}`, `--unixctl=${join(this.rundir, 'ovs-vswitchd.ctl')}`, `--log-file=${join(this.rundir, 'ovs-vswitchd.log')}`, '--detach', '--no-chdir'], { env: this.#env });
      this.#log.info({ rundir: this.rundir }, 'prismnet ovs: ovs-vswitchd started (userspace datapath)');
    }
  }

  /** Stops the daemons in this run directory (vswitchd removes its datapath devices on the way out). */
  async stop(): Promise<void> {
    await run('ovs-appctl', ['-t', this.#ctl('ovs-vswitchd'), 'exit', '--cleanup'], { env: this.#env, allowFailure: true, timeoutMs: 10_000 });
    await run('ovs-appctl', ['-t', this.#ctl('ovsdb-server'), 'exit'], { env: this.#env, allowFailure: true, timeoutMs: 10_000 });
  }

  // Generous limits: plugging a thousand ports or loading ten thousand flows into the userspace
  // datapath takes seconds, more on a loaded machine.
  vsctl(args: readonly string[], allowFailure = false): Promise<RunResult> {
    return run('ovs-vsctl', [`--db=${this.#db}`, '--timeout=120', ...args], { env: this.#env, allowFailure, timeoutMs: 130_000 });
  }

  ofctl(args: readonly string[], input?: string): Promise<RunResult> {
    return run('ovs-ofctl', ['-O', 'OpenFlow13', ...args], { env: this.#env, timeoutMs: 120_000, ...(input === undefined ? {} : { input }) });
  }

  /** The control socket: ours are named `<daemon>.ctl`; a packaged OVS uses `<daemon>.<pid>.ctl`. */
  #ctl(daemon: 'ovsdb-server' | 'ovs-vswitchd'): string {
    const own = join(this.rundir, `${daemon}.ctl`);
    if (existsSync(own)) return own;
    let pid = '';
    try {
      pid = readFileSync(join(this.rundir, `${daemon}.pid`), 'utf8').trim();
    } catch {
      return own;
    }
    return join(this.rundir, `${daemon}.${pid}.ctl`);
  }

  async #answers(daemon: 'ovsdb-server' | 'ovs-vswitchd'): Promise<boolean> {
    const ctl = this.#ctl(daemon);
    if (!existsSync(ctl)) return false;
    const result = await run('ovs-appctl', ['-t', ctl, 'version'], { env: this.#env, allowFailure: true, timeoutMs: 5_000 });
    return result.exitCode === 0;
  }
}
