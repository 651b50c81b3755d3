// The OpenAPI 3.1 description of iam's HTTP API (served at GET /api/v1/openapi.json). Each
// operation names the action the access gate checks (x-ultracloud-action), so the document is also
// the list of what roles must grant to use the API.

interface Op {
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  readonly path: string;
  readonly summary: string;
  readonly action?: string;
  readonly body?: string;
  readonly response?: string;
  readonly created?: boolean;
  readonly query?: readonly string[];
}

const OPS: readonly Op[] = [
  { method: 'get', path: '/health', summary: 'Replica health: 200 when current and able to sign' },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics' },
  { method: 'get', path: '/.well-known/jwks.json', summary: 'The public keys tokens are signed with (RFC 7517)', response: 'Jwks' },
  { method: 'get', path: '/api/v1/openapi.json', summary: 'This document' },
  { method: 'post', path: '/api/v1/auth/token', summary: 'Issue tokens: password, refresh_token or api_key grant', body: 'TokenRequest', response: 'TokenResponse' },
  { method: 'post', path: '/api/v1/auth/revoke', summary: "End the session of the given token (logout)", body: 'RevokeRequest' },
  { method: 'post', path: '/api/v1/authorize', summary: 'Decide one request', action: 'iam:decisions:evaluate', body: 'AuthorizeRequest', response: 'Decision' },
  { method: 'post', path: '/api/v1/authorize/batch', summary: 'Decide several requests of one principal', action: 'iam:decisions:evaluate', body: 'BatchAuthorizeRequest' },
  { method: 'get', path: '/api/v1/orgs', summary: 'List orgs', action: 'iam:orgs:list', response: 'Page', query: ['after', 'limit'] },
  { method: 'post', path: '/api/v1/orgs', summary: 'Create an org', action: 'iam:orgs:create', body: 'Org', created: true },
  { method: 'get', path: '/api/v1/orgs/{org}', summary: 'Get an org', action: 'iam:orgs:get', response: 'Org' },
  { method: 'delete', path: '/api/v1/orgs/{org}', summary: 'Delete an empty org (its bindings go with it)', action: 'iam:orgs:delete' },
  { method: 'get', path: '/api/v1/projects', summary: 'List projects', action: 'iam:projects:list', response: 'Page', query: ['org', 'after', 'limit'] },
  { method: 'post', path: '/api/v1/projects', summary: 'Create a project in an org', action: 'iam:projects:create', body: 'Project', created: true },
  { method: 'get', path: '/api/v1/projects/{org}/{project}', summary: 'Get a project', action: 'iam:projects:get', response: 'Project' },
  { method: 'delete', path: '/api/v1/projects/{org}/{project}', summary: 'Delete a project without service accounts', action: 'iam:projects:delete' },
  { method: 'get', path: '/api/v1/users', summary: 'List users', action: 'iam:users:list', response: 'Page', query: ['org', 'after', 'limit'] },
  { method: 'post', path: '/api/v1/users', summary: 'Create a user', action: 'iam:users:create', body: 'UserCreate', created: true },
  { method: 'get', path: '/api/v1/users/{user}', summary: 'Get a user', action: 'iam:users:get', response: 'User' },
  { method: 'patch', path: '/api/v1/users/{user}', summary: 'Enable/disable a user, change names', action: 'iam:users:update', body: 'UserUpdate' },
  { method: 'post', path: '/api/v1/users/{user}/password', summary: "Set a user's password", action: 'iam:users:update', body: 'Password' },
  { method: 'post', path: '/api/v1/users/{user}/unlock', summary: 'Clear a login lockout', action: 'iam:users:update' },
  { method: 'delete', path: '/api/v1/users/{user}', summary: 'Delete a user, its bindings and memberships', action: 'iam:users:delete' },
  { method: 'get', path: '/api/v1/groups', summary: 'List groups', action: 'iam:groups:list', response: 'Page', query: ['org', 'after', 'limit'] },
  { method: 'post', path: '/api/v1/groups', summary: 'Create a group', action: 'iam:groups:create', body: 'Group', created: true },
  { method: 'get', path: '/api/v1/groups/{group}', summary: 'Get a group with its members', action: 'iam:groups:get', response: 'Group' },
  { method: 'delete', path: '/api/v1/groups/{group}', summary: 'Delete a group and its bindings', action: 'iam:groups:delete' },
  { method: 'put', path: '/api/v1/group-members/{group}/{user}', summary: 'Add a user to a group', action: 'iam:groups:update' },
  { method: 'delete', path: '/api/v1/group-members/{group}/{user}', summary: 'Remove a user from a group', action: 'iam:groups:update' },
  { method: 'get', path: '/api/v1/service-accounts', summary: 'List service accounts', action: 'iam:serviceaccounts:list', response: 'Page', query: ['org', 'project', 'after', 'limit'] },
  { method: 'post', path: '/api/v1/service-accounts', summary: 'Create a service account in a project', action: 'iam:serviceaccounts:create', body: 'ServiceAccount', created: true },
  { method: 'get', path: '/api/v1/service-accounts/{account}', summary: 'Get a service account', action: 'iam:serviceaccounts:get', response: 'ServiceAccount' },
  { method: 'patch', path: '/api/v1/service-accounts/{account}', summary: 'Enable/disable a service account', action: 'iam:serviceaccounts:update', body: 'Disable' },
  { method: 'delete', path: '/api/v1/service-accounts/{account}', summary: 'Delete a service account, its bindings and API keys', action: 'iam:serviceaccounts:delete' },
  { method: 'get', path: '/api/v1/api-keys', summary: "List a service account's API keys (never the keys)", action: 'iam:apikeys:list', response: 'Page', query: ['serviceAccount', 'after', 'limit'] },
  { method: 'post', path: '/api/v1/api-keys', summary: 'Create an API key; the answer holds the key, shown this once', action: 'iam:apikeys:create', body: 'ApiKeyCreate', response: 'ApiKeyIssued', created: true },
  { method: 'delete', path: '/api/v1/api-keys/{account}/{key}', summary: 'Delete an API key', action: 'iam:apikeys:delete' },
  { method: 'get', path: '/api/v1/roles', summary: 'List built-in and custom roles', action: 'iam:roles:list', query: ['org', 'after', 'limit'] },
  { method: 'post', path: '/api/v1/roles', summary: 'Create a custom role', action: 'iam:roles:create', body: 'Role', created: true },
  { method: 'get', path: '/api/v1/roles/{role}', summary: 'Get a role', action: 'iam:roles:get', response: 'Role' },
  { method: 'put', path: '/api/v1/roles/{role}', summary: 'Replace a custom role', action: 'iam:roles:update', body: 'Role' },
  { method: 'delete', path: '/api/v1/roles/{role}', summary: 'Delete an unbound custom role', action: 'iam:roles:delete' },
  { method: 'get', path: '/api/v1/bindings', summary: 'List role bindings', action: 'iam:bindings:list', response: 'Page', query: ['org', 'project', 'principal', 'after', 'limit'] },
  { method: 'post', path: '/api/v1/bindings', summary: 'Grant a role to a principal at a scope', action: 'iam:bindings:create', body: 'Binding', created: true },
  { method: 'get', path: '/api/v1/bindings/{binding}', summary: 'Get a binding', action: 'iam:bindings:get', response: 'Binding' },
  { method: 'delete', path: '/api/v1/bindings/{binding}', summary: 'Revoke a binding (every node within the staleness bound)', action: 'iam:bindings:delete' },
  { method: 'get', path: '/api/v1/sessions', summary: 'List sessions', action: 'iam:sessions:list', response: 'Page', query: ['principal', 'after', 'limit'] },
  { method: 'delete', path: '/api/v1/sessions/{session}', summary: 'Revoke a session and every token of it', action: 'iam:sessions:delete' },
  { method: 'post', path: '/api/v1/keys/rotate', summary: 'Add a new signing key now', action: 'iam:keys:rotate' },
  { method: 'get', path: '/api/v1/audit', summary: 'Query the audit log', action: 'iam:audit:list', response: 'Page', query: ['since', 'until', 'principal', 'outcome', 'action', 'after', 'limit'] },
  { method: 'get', path: '/api/v1/status', summary: "This replica's epoch, currency and keys", action: 'iam:status:read' },
];

const id = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' };
const scope = {
  oneOf: [
    { type: 'object', required: ['kind'], properties: { kind: { const: 'system' } } },
    { type: 'object', required: ['kind', 'org'], properties: { kind: { const: 'org' }, org: id } },
    { type: 'object', required: ['kind', 'org', 'project'], properties: { kind: { const: 'project' }, org: id, project: id } },
  ],
};
const resource = { type: 'object', required: ['kind'], properties: { kind: { type: 'string' }, org: id, project: id, id: { type: 'string' } } };

const SCHEMAS: Record<string, unknown> = {
  Error: { type: 'object', properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } } } } },
  Page: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: {} }, next: { type: 'string', description: 'pass as ?after= for the next page' } } },
  Jwks: { type: 'object', properties: { keys: { type: 'array', items: { type: 'object', properties: { kty: { const: 'OKP' }, crv: { const: 'Ed25519' }, x: { type: 'string' }, kid: { type: 'string' }, alg: { const: 'EdDSA' }, use: { const: 'sig' } } } } } },
  TokenRequest: {
    oneOf: [
      { type: 'object', required: ['grant_type', 'username', 'password'], properties: { grant_type: { const: 'password' }, username: id, password: { type: 'string' }, org: id, project: id } },
      { type: 'object', required: ['grant_type', 'refresh_token'], properties: { grant_type: { const: 'refresh_token' }, refresh_token: { type: 'string' } } },
      { type: 'object', required: ['grant_type', 'api_key'], properties: { grant_type: { const: 'api_key' }, api_key: { type: 'string', pattern: '^uc_sk_[0-9a-f]{16}_[0-9a-f]{64}$' } } },
    ],
  },
  TokenResponse: { type: 'object', required: ['access_token', 'token_type', 'expires_in', 'principal', 'session'], properties: { access_token: { type: 'string' }, token_type: { const: 'Bearer' }, expires_in: { type: 'integer' }, refresh_token: { type: 'string' }, principal: { type: 'string' }, org: id, project: id, session: { type: 'string' } } },
  RevokeRequest: { type: 'object', required: ['token'], properties: { token: { type: 'string' } } },
  AuthorizeRequest: { type: 'object', required: ['principal', 'action', 'resource'], properties: { principal: { type: 'string', example: 'user:alice' }, action: { type: 'string', example: 'compute:instances:create' }, resource, context: { type: 'object', properties: { sourceIp: { type: 'string' } } } } },
  BatchAuthorizeRequest: { type: 'object', required: ['principal', 'checks'], properties: { principal: { type: 'string' }, checks: { type: 'array', maxItems: 100, items: { type: 'object', required: ['action', 'resource'], properties: { action: { type: 'string' }, resource } } } } },
  Decision: { type: 'object', required: ['allowed', 'reason', 'epoch'], properties: { allowed: { type: 'boolean' }, reason: { type: 'string' }, binding: { type: 'string' }, role: { type: 'string' }, epoch: { type: 'integer' } } },
  Org: { type: 'object', required: ['id'], properties: { id, displayName: { type: 'string' } } },
  Project: { type: 'object', required: ['org', 'id'], properties: { org: id, id, displayName: { type: 'string' } } },
  UserCreate: { type: 'object', required: ['id'], properties: { id, org: id, displayName: { type: 'string' }, email: { type: 'string' }, password: { type: 'string', minLength: 12 } } },
  UserUpdate: { type: 'object', properties: { disabled: { type: 'boolean' }, displayName: { type: 'string' }, email: { type: 'string' } } },
  User: { type: 'object', properties: { id, org: id, disabled: { type: 'boolean' }, hasPassword: { type: 'boolean' }, displayName: { type: 'string' }, email: { type: 'string' }, createdAtMs: { type: 'integer' } } },
  Password: { type: 'object', required: ['password'], properties: { password: { type: 'string', minLength: 12 } } },
  Group: { type: 'object', required: ['id'], properties: { id, org: id, displayName: { type: 'string' }, members: { type: 'array', items: id } } },
  ServiceAccount: { type: 'object', required: ['id', 'org', 'project'], properties: { id, org: id, project: id, displayName: { type: 'string' }, disabled: { type: 'boolean' } } },
  Disable: { type: 'object', required: ['disabled'], properties: { disabled: { type: 'boolean' } } },
  ApiKeyCreate: { type: 'object', required: ['serviceAccount'], properties: { serviceAccount: id, description: { type: 'string' }, expiresInSec: { type: 'integer', minimum: 60 } } },
  ApiKeyIssued: { type: 'object', properties: { id: { type: 'string' }, serviceAccount: id, key: { type: 'string', description: 'shown once; stored only as a digest' }, expiresAtMs: { type: 'integer' } } },
  Role: { type: 'object', required: ['name', 'bindableAt', 'actions'], properties: { name: id, bindableAt: { type: 'array', items: { enum: ['system', 'org', 'project'] } }, actions: { type: 'array', items: { type: 'string', example: 'network:*:read' } }, org: id, description: { type: 'string' } } },
  Binding: { type: 'object', required: ['principal', 'role', 'scope'], properties: { id, principal: { type: 'object', required: ['kind', 'id'], properties: { kind: { enum: ['user', 'group', 'serviceAccount'] }, id } }, role: id, scope } },
};

const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` });

export function openApiDocument(): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPS) {
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = (op.query ?? []).map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } }));
    const ok = op.created === true ? '201' : '200';
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      ...(op.action === undefined ? { security: [] } : { 'x-ultracloud-action': op.action }),
      ...(params.length + query.length === 0 ? {} : { parameters: [...params, ...query] }),
      ...(op.body === undefined ? {} : { requestBody: { required: true, content: { 'application/json': { schema: ref(op.body) } } } }),
      responses: {
        [ok]: { description: 'OK', ...(op.response === undefined ? {} : { content: { 'application/json': { schema: ref(op.response) } } }) },
        default: { description: 'An error: 400 InvalidArgument/FailedPrecondition, 401 Unauthenticated, 403 PermissionDenied, 404 NotFound, 409 AlreadyExists/Aborted, 429 ResourceExhausted, 503 Unavailable', content: { 'application/json': { schema: ref('Error') } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'UltraCloud iam', version: '1', description: 'Identity, tokens and authorization. Bearer tokens come from POST /api/v1/auth/token; see docs/iam.md.' },
    components: { schemas: SCHEMAS, securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (EdDSA)' } } },
    security: [{ bearer: [] }],
    paths,
  };
}

/** The operations, for tests that check the document and the routes agree. */
export const OPENAPI_OPERATIONS = OPS;
