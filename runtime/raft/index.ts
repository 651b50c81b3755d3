// The shared Raft core (chainfire runs one group, flaredb many): a pure state machine in the
// etcd-io/raft "Ready" style, plus the storage contract and an in-memory storage.

export { RaftNode } from './raft-node.ts';
export type { ProgressStatus, Proposal, RaftRole, RaftStatus } from './raft-node.ts';
export type { RaftConfig } from './config.ts';
export type { Entry, Snapshot } from './entry.ts';
export type { Message, MessageType } from './messages.ts';
export type { ReadState, Ready } from './ready.ts';
export type { HardState, RaftStorage } from './storage.ts';
export { MemoryRaftStorage } from './memory-storage.ts';
