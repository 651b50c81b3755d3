// The one ordered keyspace every region cuts up: a namespace's key `k` lives at the internal key
// `<namespace> \0 <k>`, so each namespace is one contiguous range and a scan inside it is one range
// of the keyspace. Keys order by UTF-16 code units (JavaScript string order) everywhere: in the
// stores, the region bounds, the client's routing and the StrongKv contract's prefixEnd.

const SEPARATOR = '\u0000';
const AFTER_SEPARATOR = '\u0001';

export function internalKey(namespace: string, key: string): string {
  return namespace + SEPARATOR + key;
}

/** The user key of an internal key of `namespace` (which it must belong to). */
export function userKey(namespace: string, internal: string): string {
  return internal.slice(namespace.length + 1);
}

/** The namespace of an internal key. */
export function namespaceOf(internal: string): string {
  const at = internal.indexOf(SEPARATOR);
  return at < 0 ? internal : internal.slice(0, at);
}

/** Internal bounds [from, to) of the user range [start, end) in `namespace`; end undefined = the namespace's end. */
export function namespaceRange(namespace: string, start: string, end: string | undefined): { readonly from: string; readonly to: string } {
  return { from: internalKey(namespace, start), to: end === undefined ? namespace + AFTER_SEPARATOR : internalKey(namespace, end) };
}

/** Smallest string after `key` in string order. */
export function successor(key: string): string {
  return key + SEPARATOR;
}
