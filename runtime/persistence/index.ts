// Persistence's public surface: the storage seam and its backends, the event journal, the
// snapshot store, and event-sourced actors built on them.
export type { KvBackend, KvEntry, KvOp, KvRange, KvWriteOptions } from './store.ts';
export { LevelBackend } from './level-backend.ts';
export { MemoryBackend } from './memory-backend.ts';
export { MAX_ID_BYTES } from './record-keys.ts';
export type { AppendOptions, JournalEntry } from './journal.ts';
export { Journal } from './journal.ts';
export type { Snapshot, SnapshotStoreOptions } from './snapshot-store.ts';
export { SnapshotStore } from './snapshot-store.ts';
export type { PersistEffect, PersistentActorSpec, PersistentState } from './persistent-actor.ts';
export { definePersistentActor } from './persistent-actor.ts';
