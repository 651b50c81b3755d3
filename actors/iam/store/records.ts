// What iam keeps in flaredb, one TypeBox schema per table. MetadataTable validates every record
// on write and read, so a corrupt or foreign record is refused loudly instead of reaching the
// authorizer. Secrets never appear here in the clear: passwords as scrypt hashes, API keys as
// SHA-256 digests, signing keys wrapped (AES-256-GCM) under a key only cluster members can derive.
import { Type, type Static } from '@sinclair/typebox';

const Id = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' });
const Text = (maxLength: number) => Type.String({ maxLength });
const Ms = Type.Integer({ minimum: 0 });

export const ScopeSchema = Type.Union([
  Type.Object({ kind: Type.Literal('system') }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('org'), org: Id }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('project'), org: Id, project: Id }, { additionalProperties: false }),
]);

export const PrincipalRefSchema = Type.Object(
  { kind: Type.Union([Type.Literal('user'), Type.Literal('group'), Type.Literal('serviceAccount')]), id: Id },
  { additionalProperties: false },
);

export const OrgRecord = Type.Object({ id: Id, displayName: Type.Optional(Text(200)), createdAtMs: Ms }, { additionalProperties: false });

export const ProjectRecord = Type.Object({ org: Id, id: Id, displayName: Type.Optional(Text(200)), createdAtMs: Ms }, { additionalProperties: false });

export const UserRecord = Type.Object(
  {
    id: Id,
    org: Type.Optional(Id),
    disabled: Type.Boolean(),
    displayName: Type.Optional(Text(200)),
    email: Type.Optional(Text(320)),
    /** scrypt$N$r$p$salt$hash (core/password.ts); absent: the user cannot log in with a password. */
    passwordHash: Type.Optional(Text(512)),
    createdAtMs: Ms,
  },
  { additionalProperties: false },
);

export const MAX_GROUP_MEMBERS = 10_000;

export const GroupRecord = Type.Object(
  { id: Id, org: Type.Optional(Id), displayName: Type.Optional(Text(200)), members: Type.Array(Id, { maxItems: MAX_GROUP_MEMBERS, uniqueItems: true }), createdAtMs: Ms },
  { additionalProperties: false },
);

export const ServiceAccountRecord = Type.Object(
  { id: Id, org: Id, project: Id, disabled: Type.Boolean(), displayName: Type.Optional(Text(200)), createdAtMs: Ms },
  { additionalProperties: false },
);

export const RoleRecord = Type.Object(
  {
    name: Id,
    bindableAt: Type.Array(Type.Union([Type.Literal('system'), Type.Literal('org'), Type.Literal('project')]), { minItems: 1, maxItems: 3, uniqueItems: true }),
    actions: Type.Array(Text(200), { minItems: 1, maxItems: 256 }),
    org: Type.Optional(Id),
    description: Type.Optional(Text(500)),
    createdAtMs: Ms,
  },
  { additionalProperties: false },
);

export const BindingRecord = Type.Object({ id: Id, principal: PrincipalRefSchema, role: Id, scope: ScopeSchema, createdAtMs: Ms }, { additionalProperties: false });

export const ApiKeyRecord = Type.Object(
  { id: Type.String({ pattern: '^[0-9a-f]{16}$' }), serviceAccount: Id, hash: Type.String({ pattern: '^[0-9a-f]{64}$' }), createdAtMs: Ms, expiresAtMs: Type.Optional(Ms), description: Type.Optional(Text(200)) },
  { additionalProperties: false },
);

/** core/lockout.ts's LockoutState, per user; kept apart from the user so failed logins do not contend with edits. */
export const LockoutRecord = Type.Object({ failures: Ms, windowStartMs: Ms, lockedUntilMs: Ms, lockouts: Ms }, { additionalProperties: false });

/**
 * A login: every token it produces carries its id (jti `<session>.<…>`), so revoking the session
 * revokes them all. The refresh token in use is the one of `generation`; presenting an older one
 * means it was stolen and replayed, and the session is revoked (refresh-token reuse detection).
 */
export const SessionRecord = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9_-]{8,64}$' }),
    principal: Text(200),
    org: Type.Optional(Id),
    project: Type.Optional(Id),
    createdAtMs: Ms,
    expiresAtMs: Ms,
    generation: Type.Integer({ minimum: 1 }),
    revoked: Type.Boolean(),
    via: Type.Union([Type.Literal('password'), Type.Literal('api-key')]),
  },
  { additionalProperties: false },
);

/** A revoked session, kept until its last access token has expired anyway; every gate holds the list. */
export const RevocationRecord = Type.Object({ session: Type.String({ pattern: '^[A-Za-z0-9_-]{8,64}$' }), untilSec: Ms, atMs: Ms }, { additionalProperties: false });

export const StoredKey = Type.Object(
  {
    kid: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }),
    createdAtMs: Ms,
    /** Tokens are signed with the newest key whose activatesAtMs has passed. */
    activatesAtMs: Ms,
    /** Set once a newer key takes over: published in the JWKS until then, when its last token has expired. */
    expiresAtMs: Type.Optional(Ms),
    /** The public key (JWK `x`, base64url). */
    x: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
    /** The 32-byte Ed25519 seed sealed with AES-256-GCM: iv ‖ ciphertext ‖ tag, base64url. */
    sealedSeed: Type.String({ pattern: '^[A-Za-z0-9_-]{80,128}$' }),
  },
  { additionalProperties: false },
);

export const KeyringRecord = Type.Object({ keys: Type.Array(StoredKey, { maxItems: 16 }) }, { additionalProperties: false });

export const ChangeRef = Type.Object({ table: Text(40), id: Text(255) }, { additionalProperties: false });

/** The cluster-wide iam epoch: bumped after every change, with the ids the last changes touched. */
export const EpochRecord = Type.Object(
  { epoch: Ms, recent: Type.Array(Type.Object({ epoch: Ms, changes: Type.Array(ChangeRef, { maxItems: 64 }) }, { additionalProperties: false }), { maxItems: 256 }) },
  { additionalProperties: false },
);

/** Who bootstrapped the cluster's first admin: created once, by compare-and-swap, by the winner. */
export const BootstrapRecord = Type.Object(
  { node: Text(200), user: Id, state: Type.Union([Type.Literal('pending'), Type.Literal('done')]), passwordHash: Text(512), atMs: Ms },
  { additionalProperties: false },
);

export const AuditRecord = Type.Object(
  {
    atMs: Ms,
    node: Text(200),
    principal: Text(200),
    action: Text(200),
    resource: Text(600),
    outcome: Type.Union([Type.Literal('allowed'), Type.Literal('denied'), Type.Literal('failed')]),
    reason: Text(1000),
    binding: Type.Optional(Text(100)),
    role: Type.Optional(Text(100)),
    sourceIp: Type.Optional(Text(100)),
  },
  { additionalProperties: false },
);

export type OrgRec = Static<typeof OrgRecord>;
export type ProjectRec = Static<typeof ProjectRecord>;
export type UserRec = Static<typeof UserRecord>;
export type GroupRec = Static<typeof GroupRecord>;
export type ServiceAccountRec = Static<typeof ServiceAccountRecord>;
export type RoleRec = Static<typeof RoleRecord>;
export type BindingRec = Static<typeof BindingRecord>;
export type ApiKeyRec = Static<typeof ApiKeyRecord>;
export type LockoutRec = Static<typeof LockoutRecord>;
export type SessionRec = Static<typeof SessionRecord>;
export type RevocationRec = Static<typeof RevocationRecord>;
export type StoredKeyRec = Static<typeof StoredKey>;
export type KeyringRec = Static<typeof KeyringRecord>;
export type ChangeRefRec = Static<typeof ChangeRef>;
export type EpochRec = Static<typeof EpochRecord>;
export type BootstrapRec = Static<typeof BootstrapRecord>;
export type AuditRec = Static<typeof AuditRecord>;
