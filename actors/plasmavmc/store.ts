// plasmavmc's tables in flaredb (namespace `plasmavmc`): images and VMs keyed `<org>/<project>/<id>`,
// workers keyed by node id; and the one way to move a VM through its lifecycle — a compare-and-swap
// update that checks the transition (and any guard) against the record as it is now, so two
// writers (API, controller, agents on several nodes) can never apply conflicting changes.
import type { StrongKv } from '../flaredb/client/strong-kv.ts';
import { MetadataTable, type Versioned } from '../flaredb/client/metadata-table.ts';
import { UltraError } from '../../runtime/errors.ts';
import { transition, type VmEvent, type VmState } from './core/lifecycle.ts';
import { ImageRecordSchema, NAMESPACE, VmRecordSchema, WorkerRecordSchema, withEvent, type VmRecord } from './core/model.ts';

export class PlasmavmcStore {
  readonly images: MetadataTable<typeof ImageRecordSchema>;
  readonly vms: MetadataTable<typeof VmRecordSchema>;
  readonly workers: MetadataTable<typeof WorkerRecordSchema>;
  readonly #now: () => number;

  private constructor(kv: StrongKv, now: () => number) {
    this.#now = now;
    this.images = new MetadataTable(kv, { namespace: NAMESPACE, table: 'images', schema: ImageRecordSchema, noun: 'image' });
    this.vms = new MetadataTable(kv, { namespace: NAMESPACE, table: 'vms', schema: VmRecordSchema, noun: 'VM' });
    this.workers = new MetadataTable(kv, { namespace: NAMESPACE, table: 'workers', schema: WorkerRecordSchema, noun: 'worker' });
  }

  static async open(kv: StrongKv, now: () => number): Promise<PlasmavmcStore> {
    await kv.ensureStrongNamespace(NAMESPACE);
    return new PlasmavmcStore(kv, now);
  }

  now(): number {
    return this.#now();
  }

  /**
   * Applies `event` to the VM: checks the transition, runs `guard` (which may throw to refuse) and
   * `change` on the current record, records the event, and writes it back with CAS (retrying on
   * conflict from the re-read record). Nothing is written when any check fails.
   */
  transition(
    key: string,
    event: VmEvent,
    options: {
      readonly guard?: (r: VmRecord) => void;
      readonly change?: (r: VmRecord, next: VmState) => VmRecord;
      readonly message?: string;
      readonly target?: (r: VmRecord) => VmState;
      /** Only if the record is still at this version (the decision was made on it): Aborted otherwise, no retry. */
      readonly expectedVersion?: number;
    } = {},
  ): Promise<Versioned<VmRecord>> {
    const apply = (current: VmRecord): VmRecord => {
      options.guard?.(current);
      const next = options.target?.(current) ?? transition(current.state, event, `VM '${current.name}'`);
      if (options.target !== undefined) transition(current.state, event, `VM '${current.name}'`);
      const at = this.#now();
      const base: VmRecord = { ...current, state: next, updatedAt: at, events: withEvent(current.events, { at, state: next, message: options.message ?? event }) };
      return options.change === undefined ? base : options.change(base, next);
    };
    if (options.expectedVersion === undefined) return this.vms.update(key, apply);
    const expected = options.expectedVersion;
    return this.vms.require(key).then((current) => {
      if (current.version !== expected) throw new UltraError('Aborted', `VM '${current.record.name}' changed since the decision (version ${current.version}, expected ${expected})`);
      return this.vms.replace(key, apply(current.record), expected);
    });
  }
}

/** Refuses a write from an agent that no longer owns the VM (it moved, or was placed again). */
export function ownedBy(node: string, epoch: number): (r: VmRecord) => void {
  return (r) => {
    if (r.node !== node || r.epoch !== epoch) throw new UltraError('Aborted', `VM '${r.name}' is now on ${r.node ?? 'no worker'} (epoch ${r.epoch}); this agent (${node}, epoch ${epoch}) no longer owns it`);
  };
}

/** The record id's parts: `<org>/<project>/<id>`. */
export function splitKey(key: string): { org: string; project: string; id: string } {
  const [org, project, id, ...rest] = key.split('/');
  if (org === undefined || project === undefined || id === undefined || rest.length > 0) throw new UltraError('Internal', `malformed record key '${key}'`);
  return { org, project, id };
}
