// The commands chainfire replicates through the Raft log, and what applying one yields. Every
// replica applies the same commands in log order, so anything time-dependent travels inside the
// command (now_ms, stamped by the leader when it proposes): the state machine never reads a clock.

import type { ErrorData } from '../../../runtime/errors.ts';
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  PutRequest,
  PutResponse,
  ResponseHeader,
  TxnRequest,
  TxnResponse,
} from './types.ts';

export type Command =
  | { readonly type: 'put'; readonly request: PutRequest }
  | { readonly type: 'delete-range'; readonly request: DeleteRangeRequest }
  | { readonly type: 'txn'; readonly request: TxnRequest }
  | { readonly type: 'compact'; readonly request: CompactionRequest }
  /** now_ms starts the lease's TTL. */
  | { readonly type: 'lease-grant'; readonly request: LeaseGrantRequest; readonly now_ms: number }
  | { readonly type: 'lease-revoke'; readonly request: LeaseRevokeRequest }
  /** now_ms restarts the lease's TTL. */
  | { readonly type: 'lease-keep-alive'; readonly request: LeaseKeepAliveRequest; readonly now_ms: number }
  /**
   * Proposed by the leader for a lease that expiredLeases(now_ms) reported. Applying it revokes the
   * lease only if it is still past its deadline at now_ms: a keep-alive committed in between wins.
   */
  | { readonly type: 'lease-expire'; readonly id: bigint; readonly now_ms: number }
  /**
   * Proposed by a newly elected leader (etcd's lessor Promote): restarts every lease's TTL at
   * now_ms, so neither the failover gap nor clock skew between leaders expires a lease early.
   */
  | { readonly type: 'lease-promote'; readonly now_ms: number }
  /**
   * An operator's `alarm` ACTIVATE or DEACTIVATE of NOSPACE (etcd's Alarm through the log): the
   * alarm is cluster state, since every member applies the same writes and crosses the quota at
   * the same revision.
   */
  | { readonly type: 'alarm'; readonly action: 'ACTIVATE' | 'DEACTIVATE' };

export type CommandType = Command['type'];

export interface LeaseExpireResponse {
  readonly header: ResponseHeader;
  /** False when the lease was already gone or had been kept alive meanwhile. */
  readonly expired: boolean;
}

export interface AlarmCommandResponse {
  readonly header: ResponseHeader;
  /** Whether the NOSPACE alarm was raised (ACTIVATE) or cleared (DEACTIVATE) by this command. */
  readonly changed: boolean;
}

export interface CommandResponses {
  readonly put: PutResponse;
  readonly 'delete-range': DeleteRangeResponse;
  readonly txn: TxnResponse;
  readonly compact: CompactionResponse;
  readonly 'lease-grant': LeaseGrantResponse;
  readonly 'lease-revoke': LeaseRevokeResponse;
  readonly 'lease-keep-alive': LeaseKeepAliveResponse;
  readonly 'lease-expire': LeaseExpireResponse;
  readonly 'lease-promote': { readonly header: ResponseHeader };
  readonly alarm: AlarmCommandResponse;
}

/**
 * The outcome of applying one command. A refused command changes nothing, except that a write
 * refused for space raises the NOSPACE alarm (itself replicated state). `events` are the changes
 * in revision order, for the watch hub.
 */
export type ApplyResult<T extends CommandType = CommandType> =
  | { readonly ok: true; readonly response: CommandResponses[T]; readonly events: readonly Event[] }
  | { readonly ok: false; readonly error: ErrorData };
