// flaredb's bounds, in one place: what a request may carry and what a region may hold before the
// placement driver splits it. Requests over a bound are refused with InvalidArgument, unchanged.

/** Namespace names: lower-case letters, digits, `-` and `_`, starting with a letter (like DNS labels). */
export const NAMESPACE_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
/** A key is 1..MAX_KEY_BYTES bytes of UTF-8. */
export const MAX_KEY_BYTES = 4096;
/** A value is 0..MAX_VALUE_BYTES bytes (one Raft entry carries it whole). */
export const MAX_VALUE_BYTES = 512 * 1024;
/** Scans return at most this many entries per page, and this many when no limit is given. */
export const DEFAULT_SCAN_LIMIT = 100;
export const MAX_SCAN_LIMIT = 1000;

/** A region is split when its approximate size or key count passes these (both configurable). */
export const DEFAULT_SPLIT_SIZE_BYTES = 8 * 1024 * 1024;
export const DEFAULT_SPLIT_KEYS = 20_000;
