// The control plane's backup file (`ultracloud cluster backup` / `restore`): JSON lines.
//   line 1      header  { "format": "ultracloud-backup", "version": 1, "created_ms", "chainfire_revision",
//                         "counts": { chainfire, namespaces, strong, eventual }, "body_lines", "body_sha256" }
//   lines 2..   body    one record per line, in this order: chainfire keys ("cf"), flaredb namespaces ("ns"),
//                       then each namespace's keys ("kv" strong, "raw" eventual)
// The checksum covers the body's exact bytes (every body line with its '\n'), so a file cut short,
// with a line changed, or with the header's counts edited is refused before restore writes anything.
// Bytes (chainfire keys and values, flaredb values) are base64; flaredb keys are UTF-8 strings.
import { createHash } from 'node:crypto';
import { UltraError } from '../errors.ts';

export const BACKUP_FORMAT = 'ultracloud-backup';
export const BACKUP_VERSION = 1;

export type NamespaceMode = 'strong' | 'eventual';

export type BackupRecord =
  | { readonly t: 'cf'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly t: 'ns'; readonly name: string; readonly mode: NamespaceMode }
  | { readonly t: 'kv'; readonly ns: string; readonly key: string; readonly value: Uint8Array }
  | { readonly t: 'raw'; readonly ns: string; readonly key: string; readonly value: Uint8Array };

export interface BackupCounts {
  readonly chainfire: number;
  readonly namespaces: number;
  readonly strong: number;
  readonly eventual: number;
}

export interface BackupHeader {
  readonly format: typeof BACKUP_FORMAT;
  readonly version: typeof BACKUP_VERSION;
  /** Cluster (wall-clock) time of the backup, ms since the epoch. */
  readonly created_ms: number;
  /** The chainfire revision every chainfire record was read at (decimal string: an int64). */
  readonly chainfire_revision: string;
  readonly counts: BackupCounts;
  readonly body_lines: number;
  readonly body_sha256: string;
}

export interface Backup {
  readonly header: BackupHeader;
  readonly records: readonly BackupRecord[];
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export function countRecords(records: readonly BackupRecord[]): BackupCounts {
  const counts = { chainfire: 0, namespaces: 0, strong: 0, eventual: 0 };
  for (const r of records) {
    if (r.t === 'cf') counts.chainfire++;
    else if (r.t === 'ns') counts.namespaces++;
    else if (r.t === 'kv') counts.strong++;
    else counts.eventual++;
  }
  return counts;
}

export function encodeRecord(record: BackupRecord): string {
  switch (record.t) {
    case 'cf':
      return JSON.stringify({ t: 'cf', k: b64(record.key), v: b64(record.value) });
    case 'ns':
      return JSON.stringify({ t: 'ns', name: record.name, mode: record.mode });
    case 'kv':
    case 'raw':
      return JSON.stringify({ t: record.t, ns: record.ns, k: record.key, v: b64(record.value) });
  }
}

/** The whole file: header line, then one line per record. */
export function encodeBackup(meta: { readonly createdMs: number; readonly chainfireRevision: bigint }, records: readonly BackupRecord[]): string {
  const body = records.map((r) => `${encodeRecord(r)}\n`).join('');
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    created_ms: meta.createdMs,
    chainfire_revision: String(meta.chainfireRevision),
    counts: countRecords(records),
    body_lines: records.length,
    body_sha256: createHash('sha256').update(body, 'utf8').digest('hex'),
  };
  return `${JSON.stringify(header)}\n${body}`;
}

function corrupt(detail: string): UltraError {
  return new UltraError('InvalidArgument', `backup file is corrupt or truncated: ${detail}; nothing was restored — use an intact copy of the backup`);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bytes(value: unknown, line: number, field: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value) || value.length % 4 !== 0) throw corrupt(`line ${line}: ${field} is not base64`);
  return new Uint8Array(Buffer.from(value, 'base64'));
}

function text(value: unknown, line: number, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw corrupt(`line ${line}: ${field} must be a non-empty string`);
  return value;
}

function decodeRecord(raw: string, line: number): BackupRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw corrupt(`line ${line} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw corrupt(`line ${line} is not a record`);
  const r = parsed as Record<string, unknown>;
  switch (r.t) {
    case 'cf':
      return { t: 'cf', key: bytes(r.k, line, 'k'), value: bytes(r.v, line, 'v') };
    case 'ns':
      if (r.mode !== 'strong' && r.mode !== 'eventual') throw corrupt(`line ${line}: mode must be strong or eventual`);
      return { t: 'ns', name: text(r.name, line, 'name'), mode: r.mode };
    case 'kv':
    case 'raw':
      return { t: r.t, ns: text(r.ns, line, 'ns'), key: text(r.k, line, 'k'), value: bytes(r.v, line, 'v') };
    default:
      throw corrupt(`line ${line} has unknown record type ${JSON.stringify(r.t)}`);
  }
}

function parseHeader(raw: string): BackupHeader {
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw corrupt('the header (line 1) is not JSON');
  }
  if (typeof h !== 'object' || h === null || h.format !== BACKUP_FORMAT) throw new UltraError('InvalidArgument', `not an UltraCloud backup (line 1 has no "format": "${BACKUP_FORMAT}"); pass a file written by \`ultracloud cluster backup\``);
  if (h.version !== BACKUP_VERSION) throw new UltraError('FailedPrecondition', `backup format version ${String(h.version)} is not supported by this ultracloud (it reads version ${BACKUP_VERSION}); restore with the release that wrote it`);
  const counts = h.counts as Record<string, unknown> | undefined;
  const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (
    typeof h.created_ms !== 'number' ||
    typeof h.chainfire_revision !== 'string' ||
    !/^\d{1,19}$/.test(h.chainfire_revision) ||
    !isCount(h.body_lines) ||
    typeof h.body_sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(h.body_sha256) ||
    typeof counts !== 'object' ||
    counts === null ||
    !['chainfire', 'namespaces', 'strong', 'eventual'].every((k) => isCount(counts[k]))
  ) {
    throw corrupt('the header (line 1) is missing fields');
  }
  return h as unknown as BackupHeader;
}

/**
 * Parses and verifies a whole backup file: header, checksum over the body, line count and
 * per-kind counts. Throws a typed UltraError naming what is wrong; returns only a file that is intact.
 */
export function decodeBackup(file: string): Backup {
  const newline = file.indexOf('\n');
  if (newline < 0) throw corrupt('no header line');
  const header = parseHeader(file.slice(0, newline));
  const body = file.slice(newline + 1);
  const digest = createHash('sha256').update(body, 'utf8').digest('hex');
  if (digest !== header.body_sha256) throw corrupt(`body sha256 is ${digest}, the header says ${header.body_sha256}`);
  if (body.length > 0 && !body.endsWith('\n')) throw corrupt('the last line is incomplete');
  const lines = body.length === 0 ? [] : body.slice(0, -1).split('\n');
  if (lines.length !== header.body_lines) throw corrupt(`${lines.length} body lines, the header says ${header.body_lines}`);
  const records = lines.map((line, i) => decodeRecord(line, i + 2));
  const counts = countRecords(records);
  for (const kind of ['chainfire', 'namespaces', 'strong', 'eventual'] as const) {
    if (counts[kind] !== header.counts[kind]) throw corrupt(`${counts[kind]} ${kind} records, the header says ${header.counts[kind]}`);
  }
  // Every key must belong to a namespace declared before it with the matching mode.
  const modes = new Map<string, NamespaceMode>();
  records.forEach((r, i) => {
    if (r.t === 'ns') modes.set(r.name, r.mode);
    else if (r.t !== 'cf' && modes.get(r.ns) !== (r.t === 'kv' ? 'strong' : 'eventual')) throw corrupt(`line ${i + 2}: key in namespace '${r.ns}' that is not declared as ${r.t === 'kv' ? 'strong' : 'eventual'} before it`);
  });
  return { header, records };
}
