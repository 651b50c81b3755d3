// `ultracloud cluster backup` and `ultracloud cluster restore`: a logical backup of the control
// plane's data — every chainfire key at one revision (etcd gRPC Range pinned to that revision) and
// every flaredb namespace with its keys (the flaredb JSON API, paged scans) — in the file format of
// runtime/node/backup-format.ts; and its restore into a fresh cluster. Which node: --data-dir (its
// endpoint file names the node's chainfire gRPC and flaredb HTTP addresses, its admin-token the
// credential) or explicit --chainfire-endpoint [https://]HOST:PORT and --flaredb-endpoint URL with
// --token; TLS as the node serves it, with --cacert and a client certificate as other commands.
import { Client, credentials, Metadata, type MethodDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { etcdServiceDefinitions } from '../../actors/chainfire/api/etcd-proto.ts';
import { realEnv } from '../env/real-env.ts';
import { UltraError } from '../errors.ts';
import { readAdminToken } from '../node/admin-credential.ts';
import { decodeBackup, encodeBackup, type BackupRecord, type NamespaceMode } from '../node/backup-format.ts';
import { readEndpointFile } from '../node/endpoint-file.ts';
import { clientTls } from '../http/client-tls.ts';
import { ApiClient, DEFAULT_DATA_DIR } from './api-client.ts';
import { parse, TLS_OPTIONS } from './args.ts';
import { UsageError } from './usage-error.ts';

const PAGE = 1000;
const TARGET_OPTIONS = {
  'data-dir': { type: 'string' },
  'chainfire-endpoint': { type: 'string' },
  'flaredb-endpoint': { type: 'string' },
  token: { type: 'string' },
  ...TLS_OPTIONS,
} as const;
const TARGET_USAGE = '[--data-dir D | --chainfire-endpoint [https://]HOST:PORT --flaredb-endpoint URL --token T] [--cacert F] [--client-cert F --client-key F]';
const BACKUP_USAGE = `usage: ultracloud cluster backup --out FILE ${TARGET_USAGE}`;
const RESTORE_USAGE = `usage: ultracloud cluster restore --from FILE ${TARGET_USAGE}`;

type Wire = Record<string, any>;

/** The few etcd KV calls backup and restore need, authenticated with the admin credential. */
class ChainfireKv {
  readonly #client: Client;
  readonly #defs = etcdServiceDefinitions();
  readonly #metadata = new Metadata();
  readonly #address: string;
  readonly #secure: boolean;

  /** `secure`: over TLS, trusting --cacert/$ULTRACLOUD_CACERT (else the system's CAs), with the client certificate if one is set. */
  constructor(address: string, token: string, secure: boolean) {
    this.#address = address;
    this.#secure = secure;
    const tls = secure ? clientTls() : undefined;
    this.#client = new Client(address, tls === undefined ? credentials.createInsecure() : credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null));
    // The admin credential is accepted as root's etcd token (actors/chainfire/api/etcd-auth.ts).
    this.#metadata.set('token', token);
  }

  call(method: 'Range' | 'Put', request: Wire): Promise<Wire> {
    const m = (this.#defs.KV as ServiceDefinition)[method] as MethodDefinition<Wire, Wire>;
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, request, this.#metadata, { deadline: realEnv().now() + 30_000 }, (error, response) => {
        if (error === null) return resolve(response!);
        const untrusted = this.#secure && /certificate/i.test(error.message);
        const next = untrusted ? "the node's TLS certificate is not trusted here: pass --cacert (or set ULTRACLOUD_CACERT) with the CA that issued it" : "check the node is running and the credential is the cluster's admin token";
        reject(new UltraError('Unavailable', `chainfire at ${this.#address}: ${method} failed (${error.message}); ${next}`));
      });
    });
  }

  close(): void {
    this.#client.close();
  }
}

interface Target {
  readonly chainfire: ChainfireKv;
  readonly flaredb: ApiClient;
}

function target(values: { 'data-dir'?: string | undefined; 'chainfire-endpoint'?: string | undefined; 'flaredb-endpoint'?: string | undefined; token?: string | undefined }, usage: string): Target {
  const explicit = values['chainfire-endpoint'] !== undefined || values['flaredb-endpoint'] !== undefined;
  if (explicit) {
    if (values['chainfire-endpoint'] === undefined || values['flaredb-endpoint'] === undefined || values.token === undefined) throw new UsageError(`give --chainfire-endpoint, --flaredb-endpoint and --token together\n${usage}`);
    if (values['data-dir'] !== undefined) throw new UsageError(`give either --data-dir or the endpoints, not both\n${usage}`);
    const chainfire = values['chainfire-endpoint'];
    return { chainfire: new ChainfireKv(chainfire.replace(/^https?:\/\//, ''), values.token, chainfire.startsWith('https://')), flaredb: new ApiClient(values['flaredb-endpoint'], values.token) };
  }
  const dataDir = resolve(values['data-dir'] ?? DEFAULT_DATA_DIR);
  let endpoint: ReturnType<typeof readEndpointFile>;
  try {
    endpoint = readEndpointFile(dataDir);
  } catch (error) {
    if (!(error instanceof UltraError) || error.code !== 'NotFound') throw error;
    throw new UltraError('NotFound', `no running node in ${dataDir} (no endpoint.json): start it with \`ultracloud node start --data-dir ${dataDir}\`, or pass --chainfire-endpoint, --flaredb-endpoint and --token`);
  }
  const grpc = endpoint.components['chainfire-grpc'];
  const http = endpoint.components['flaredb-http'];
  if (grpc === undefined || http === undefined) {
    throw new UltraError('FailedPrecondition', `node ${endpoint.node} (${dataDir}) does not run ${grpc === undefined ? 'chainfire' : 'flaredb'}: back up and restore through a control-plane node that runs chainfire and flaredb`);
  }
  const token = values.token ?? readAdminToken(dataDir);
  // A node serves all its APIs over TLS or none (node.json `tls`); its gRPC address carries no scheme.
  return { chainfire: new ChainfireKv(grpc.replace(/^[a-z]+:\/\//, ''), token, endpoint.http.startsWith('https://')), flaredb: new ApiClient(http, token) };
}

const ALL = Buffer.from([0]);

/** Every chainfire key/value at one revision, paged by key; lease ids are not kept. */
async function readChainfire(kv: ChainfireKv, progress: (n: number) => void): Promise<{ revision: bigint; records: BackupRecord[] }> {
  const head = await kv.call('Range', { key: ALL, range_end: ALL, count_only: true });
  const revision = BigInt(head.header.revision as string);
  const records: BackupRecord[] = [];
  let start: Buffer = ALL;
  for (;;) {
    const page = await kv.call('Range', { key: start, range_end: ALL, revision: String(revision), limit: String(PAGE), sort_order: 'ASCEND', sort_target: 'KEY' });
    const kvs = page.kvs as Array<{ key: Buffer; value: Buffer }>;
    for (const e of kvs) records.push({ t: 'cf', key: new Uint8Array(e.key), value: new Uint8Array(e.value) });
    progress(records.length);
    const last = kvs.at(-1);
    if (page.more !== true || last === undefined) return { revision, records };
    start = Buffer.concat([last.key, ALL]);
  }
}

interface ScanPage {
  readonly entries: ReadonlyArray<{ key: string; value_base64: string }>;
  readonly next_key?: string;
}

const path = (kind: 'kv' | 'raw', ns: string, key?: string) => `/api/v1/${kind}/${encodeURIComponent(ns)}${key === undefined ? '' : `/${encodeURIComponent(key)}`}`;

/** Every flaredb namespace, then each one's keys (strong: linearizable scan pages; eventual: raw scan pages). */
async function readFlaredb(db: ApiClient, progress: (ns: string, n: number) => void): Promise<BackupRecord[]> {
  const { namespaces } = await db.get<{ namespaces: Array<{ name: string; mode: NamespaceMode }> }>('/api/v1/namespaces');
  const sorted = [...namespaces].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const records: BackupRecord[] = sorted.map((n) => ({ t: 'ns', name: n.name, mode: n.mode }));
  for (const { name, mode } of sorted) {
    const kind = mode === 'strong' ? 'kv' : 'raw';
    let start = '';
    let count = 0;
    for (;;) {
      const page = await db.get<ScanPage>(`${path(kind, name)}?limit=${PAGE}&start=${encodeURIComponent(start)}`);
      for (const e of page.entries) records.push({ t: kind, ns: name, key: e.key, value: new Uint8Array(Buffer.from(e.value_base64, 'base64')) });
      count += page.entries.length;
      progress(name, count);
      if (page.next_key === undefined) break;
      start = page.next_key;
    }
  }
  return records;
}

/** Writes `text` to `file` atomically and privately: a 0600 temp file beside it, fsynced, renamed over. */
function writeAtomically(file: string, text: string): void {
  const tmp = join(dirname(file), `.${file.split('/').at(-1) ?? 'backup'}.tmp-${process.pid}`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    chmodSync(tmp, 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(tmp, file);
}

const say = (line: string) => process.stdout.write(`${line}\n`);

export async function clusterBackup(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...TARGET_OPTIONS, out: { type: 'string' } }, BACKUP_USAGE);
  if (values.out === undefined) throw new UsageError(`--out FILE is required\n${BACKUP_USAGE}`);
  const out = resolve(values.out);
  const { chainfire, flaredb } = target(values, BACKUP_USAGE);
  try {
    const createdMs = realEnv().now();
    const cf = await readChainfire(chainfire, (n) => say(`chainfire: ${n} keys`));
    say(`chainfire: done, ${cf.records.length} keys at revision ${cf.revision}`);
    const db = await readFlaredb(flaredb, (ns, n) => say(`flaredb ${ns}: ${n} keys`));
    const text = encodeBackup({ createdMs, chainfireRevision: cf.revision }, [...cf.records, ...db]);
    try {
      writeAtomically(out, text);
    } catch (error) {
      throw new UltraError('FailedPrecondition', `cannot write the backup to ${out} (${error instanceof Error ? error.message : String(error)}); choose an --out in an existing, writable directory`);
    }
    const header = decodeBackup(text).header;
    say(`backup written to ${out} (mode 0600): ${header.counts.chainfire} chainfire keys at revision ${header.chainfire_revision}, ${header.counts.namespaces} flaredb namespaces, ${header.counts.strong} strong and ${header.counts.eventual} eventual keys, sha256 ${header.body_sha256}`);
    return 0;
  } finally {
    chainfire.close();
  }
}

export async function clusterRestore(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...TARGET_OPTIONS, from: { type: 'string' } }, RESTORE_USAGE);
  if (values.from === undefined) throw new UsageError(`--from FILE is required\n${RESTORE_USAGE}`);
  let text: string;
  try {
    text = readFileSync(values.from, 'utf8');
  } catch (error) {
    throw new UltraError('NotFound', `cannot read backup ${values.from} (${error instanceof Error ? error.message : String(error)})`);
  }
  // Verified whole before anything is written: checksum, line count, counts, record shapes.
  const { header, records } = decodeBackup(text);
  say(`backup verified: ${header.counts.chainfire} chainfire keys at revision ${header.chainfire_revision}, ${header.counts.namespaces} namespaces, ${header.counts.strong} strong and ${header.counts.eventual} eventual keys`);
  const { chainfire, flaredb } = target(values, RESTORE_USAGE);
  try {
    await requireEmpty(chainfire, flaredb);
    let n = 0;
    const every = (what: string, total: number) => {
      n++;
      if (n % PAGE === 0 || n === total) say(`${what}: ${n}/${total}`);
    };
    for (const r of records) {
      if (r.t !== 'ns') continue;
      await flaredb.post('/api/v1/namespaces', { name: r.name, mode: r.mode });
      say(`flaredb namespace ${r.name} (${r.mode}) created`);
    }
    const keys = header.counts.strong + header.counts.eventual;
    n = 0;
    for (const r of records) {
      if (r.t === 'kv') {
        // Create-if-absent: a key that appeared meanwhile is a conflict, never silently overwritten.
        const result = await flaredb.put<{ success: boolean }>(path('kv', r.ns, r.key), { value_base64: Buffer.from(r.value).toString('base64'), expected_version: 0 });
        if (!result.success) throw new UltraError('Aborted', `flaredb key '${r.key}' in namespace '${r.ns}' was written by someone else during the restore; stop all writers and restore into a fresh cluster again`);
        every('flaredb keys', keys);
      } else if (r.t === 'raw') {
        await flaredb.put(path('raw', r.ns, r.key), { value_base64: Buffer.from(r.value).toString('base64') });
        every('flaredb keys', keys);
      }
    }
    n = 0;
    for (const r of records) {
      if (r.t !== 'cf') continue;
      await chainfire.call('Put', { key: Buffer.from(r.key), value: Buffer.from(r.value) });
      every('chainfire keys', header.counts.chainfire);
    }
    say(`restore complete: ${header.counts.namespaces} namespaces, ${keys} flaredb keys, ${header.counts.chainfire} chainfire keys (backup of ${header.chainfire_revision === '0' ? 'an empty chainfire' : `chainfire revision ${header.chainfire_revision}`})`);
    return 0;
  } finally {
    chainfire.close();
  }
}

/**
 * Restore goes only into an empty control plane: no chainfire keys and no flaredb namespaces. A
 * cluster running iam is never empty (iam bootstraps its own records and signing keys in flaredb
 * namespace `iam`), so the target runs without iam (docs/operations.md "Backup and restore").
 */
async function requireEmpty(chainfire: ChainfireKv, flaredb: ApiClient): Promise<void> {
  const head = await chainfire.call('Range', { key: ALL, range_end: ALL, count_only: true });
  const keys = BigInt(head.count as string);
  const { namespaces } = await flaredb.get<{ namespaces: Array<{ name: string }> }>('/api/v1/namespaces');
  const found = [
    ...(keys > 0n ? [`${keys} chainfire keys`] : []),
    ...(namespaces.length > 0 ? [`flaredb namespaces ${namespaces.map((n) => n.name).join(', ')}`] : []),
  ];
  if (found.length > 0) {
    throw new UltraError('FailedPrecondition', `the target cluster is not empty (${found.join('; ')}); restore only into a fresh cluster started without iam (\`cluster init --components chainfire,flaredb\`) — nothing was written`);
  }
}
