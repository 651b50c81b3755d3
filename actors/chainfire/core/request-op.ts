// A txn's RequestOp (proto's `oneof request`) as a tagged union, so the rest of the core can
// switch on it; more or fewer than one member set is an invalid request.

import { etcdError } from './errors.ts';
import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from './types.ts';

export type TaggedOp =
  | { readonly kind: 'range'; readonly request: RangeRequest }
  | { readonly kind: 'put'; readonly request: PutRequest }
  | { readonly kind: 'delete-range'; readonly request: DeleteRangeRequest }
  | { readonly kind: 'txn'; readonly request: TxnRequest };

export function tagOp(op: RequestOp): TaggedOp {
  const tagged: TaggedOp[] = [];
  if (op.request_range != null) tagged.push({ kind: 'range', request: op.request_range });
  if (op.request_put != null) tagged.push({ kind: 'put', request: op.request_put });
  if (op.request_delete_range != null) tagged.push({ kind: 'delete-range', request: op.request_delete_range });
  if (op.request_txn != null) tagged.push({ kind: 'txn', request: op.request_txn });
  const [only] = tagged;
  if (only === undefined || tagged.length > 1) {
    throw etcdError('invalid-request', `a txn op must set exactly one request, got ${tagged.length}`);
  }
  return only;
}
