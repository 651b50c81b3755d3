// Membership changes, etcd-raft's "simple" kind: one node added, promoted or removed per change. A
// change travels as a log entry of kind 'conf' and takes effect on each member when that member
// applies it (etcd's apply-time semantics), so every configuration in use differs from every other
// by at most one node, and any two of their majorities intersect. That needs three rules, kept by
// RaftNode: a leader proposes a change only once it applied every earlier one (pendingConfIndex);
// a member that knows of a committed change it has not applied yet does not campaign; and a new
// leader first applies an entry of its own term.
import { Codec } from '../codec/codec.ts';
import { UltraError } from '../errors.ts';

/** The membership (etcd's ConfState): voters elect and commit; learners only receive the log. */
export interface ConfState {
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}

export type ConfChangeType =
  /** A new member that receives the log and snapshots but neither votes nor counts for commit. */
  | 'addLearner'
  /** Promotes a learner to voter (or adds a new node directly as a voter). */
  | 'addVoter'
  /** Removes a voter or a learner. */
  | 'remove';

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly node: string;
}

const codec = new Codec();

export function encodeConfChange(change: ConfChange): Uint8Array {
  return codec.encode({ type: change.type, node: change.node });
}

/** The change a 'conf' entry carries; InvalidArgument if the bytes are not one. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const value = codec.decode(data) as { type?: unknown; node?: unknown } | null;
  const type = value?.type;
  if ((type !== 'addLearner' && type !== 'addVoter' && type !== 'remove') || typeof value?.node !== 'string' || value.node === '') {
    throw new UltraError('InvalidArgument', 'raft: malformed configuration change entry');
  }
  return { type, node: value.node };
}

export function isMember(conf: ConfState, node: string): boolean {
  return conf.voters.includes(node) || conf.learners.includes(node);
}

/**
 * Why `change` cannot apply to `conf` (undefined: it can). Adding what is already there, promoting
 * or removing a non-member, and removing the last voter are refused.
 */
export function confChangeProblem(conf: ConfState, change: ConfChange): UltraError | undefined {
  const { type, node } = change;
  if (type === 'addLearner') {
    if (conf.voters.includes(node)) return new UltraError('FailedPrecondition', `raft: ${node} is a voter; remove it before adding it as a learner`);
    if (conf.learners.includes(node)) return new UltraError('AlreadyExists', `raft: ${node} is already a learner`);
  } else if (type === 'addVoter') {
    if (conf.voters.includes(node)) return new UltraError('AlreadyExists', `raft: ${node} is already a voter`);
  } else {
    if (!isMember(conf, node)) return new UltraError('NotFound', `raft: ${node} is not a member`);
    if (conf.voters.length === 1 && conf.voters[0] === node) return new UltraError('FailedPrecondition', `raft: ${node} is the last voter; add another voter first`);
  }
  return undefined;
}

/** The membership after `change`; a change that cannot apply (see confChangeProblem) leaves it as it is. */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  if (confChangeProblem(conf, change) !== undefined) return conf;
  const voters = conf.voters.filter((id) => id !== change.node);
  const learners = conf.learners.filter((id) => id !== change.node);
  if (change.type === 'addLearner') learners.push(change.node);
  else if (change.type === 'addVoter') voters.push(change.node);
  return { voters: voters.sort(), learners: learners.sort() };
}
