// `ultracloud iam …`: the common iam tasks, one subcommand per REST call of iam's API
// (actors/iam/api/http-api.ts). It talks to iam's HTTP endpoint (see login-command.ts for where
// that comes from) with the stored login, --token or $ULTRACLOUD_TOKEN, or the admin credential.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UltraError } from '../errors.ts';
import { readAdminToken } from '../node/admin-credential.ts';
import { ApiClient, DEFAULT_DATA_DIR } from './api-client.ts';
import { CLIENT_OPTIONS, integerFlag, parse } from './args.ts';
import { readLogin, refreshLogin, removeLogin, credentialsFile } from './credentials.ts';
import { componentEndpoint } from './component-endpoint.ts';
import { IAM_API } from './login-command.ts';
import { outputFormat, printJson, printTable } from './output.ts';
import { UsageError } from './usage-error.ts';

const OPTIONS = {
  ...CLIENT_OPTIONS,
  'iam-endpoint': { type: 'string' },
  org: { type: 'string' },
  project: { type: 'string' },
  principal: { type: 'string' },
  role: { type: 'string' },
  scope: { type: 'string' },
  id: { type: 'string' },
  actions: { type: 'string' },
  'bindable-at': { type: 'string' },
  'display-name': { type: 'string' },
  email: { type: 'string' },
  description: { type: 'string' },
  'password-file': { type: 'string' },
  'expires-in-sec': { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  outcome: { type: 'string' },
  action: { type: 'string' },
  limit: { type: 'string' },
  after: { type: 'string' },
} as const;

const USAGE = `usage: ultracloud iam <group> <verb> [args] [--iam-endpoint URL] [--output table|json]
  orgs list | create ORG [--display-name N] | get ORG | delete ORG
  projects list [--org O] | create ORG/PROJECT | get ORG/PROJECT | delete ORG/PROJECT
  users list [--org O] | create USER [--org O] [--password-file F] [--email E] | get USER | delete USER
        | disable USER | enable USER | set-password USER --password-file F | unlock USER
  groups list [--org O] | create GROUP [--org O] | get GROUP | delete GROUP | add-member GROUP USER | remove-member GROUP USER
  service-accounts list [--org O --project P] | create SA --org O --project P | get SA | delete SA | disable SA | enable SA
  api-keys list SA | create SA [--description D] [--expires-in-sec N] | delete SA KEY_ID
  roles list [--org O] | get ROLE | create ROLE --actions a,b --bindable-at project[,org] [--org O] | delete ROLE
  bindings list [--org O] [--project P] [--principal user:U] | get ID | delete ID
         | create --principal user:U|group:G|serviceAccount:S --role R --scope system|ORG|ORG/PROJECT [--id ID]
  authorize PRINCIPAL ACTION KIND [--org O] [--project P] [--id ID]
  sessions list [--principal user:U] | revoke SESSION
  audit [--since MS] [--until MS] [--principal P] [--outcome allowed|denied|failed] [--action A] [--limit N]
  keys rotate | status | whoami | logout`;

type Values = ReturnType<typeof parseIam>['values'];

function parseIam(argv: string[]) {
  return parse(argv, OPTIONS, USAGE, true);
}

export async function iamCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseIam(argv);
  const [group, verb, ...args] = positionals;
  if (group === undefined) throw new UsageError(USAGE);
  if (group === 'whoami') return whoami(values);
  if (group === 'logout') return logout(values);
  const api = client(values);
  const out = (result: unknown, columns?: readonly string[]): number => print(values, result, columns);
  const one = (n = 1): string[] => {
    if (args.length !== n) throw new UsageError(`iam ${group} ${verb ?? ''}: expected ${n} argument(s)\n${USAGE}`);
    return args;
  };
  const e = encodeURIComponent;
  const q = (params: Record<string, string | undefined>): string => {
    const s = new URLSearchParams(Object.entries(params).filter((p): p is [string, string] => p[1] !== undefined)).toString();
    return s === '' ? '' : `?${s}`;
  };
  const page = { limit: values.limit, after: values.after };
  switch (`${group} ${verb ?? ''}`) {
    case 'orgs list':
      return out(await api.get(`/api/v1/orgs${q(page)}`), ['id', 'displayName']);
    case 'orgs create':
      return out(await api.post('/api/v1/orgs', { id: one()[0], ...opt('displayName', values['display-name']) }));
    case 'orgs get':
      return out(await api.get(`/api/v1/orgs/${e(one()[0]!)}`));
    case 'orgs delete':
      return out(await api.delete(`/api/v1/orgs/${e(one()[0]!)}`));
    case 'projects list':
      return out(await api.get(`/api/v1/projects${q({ org: values.org, ...page })}`), ['org', 'id', 'displayName']);
    case 'projects create': {
      const [org, id] = orgProject(one()[0]!);
      return out(await api.post('/api/v1/projects', { org, id, ...opt('displayName', values['display-name']) }));
    }
    case 'projects get':
      return out(await api.get(`/api/v1/projects/${orgProject(one()[0]!).map(e).join('/')}`));
    case 'projects delete':
      return out(await api.delete(`/api/v1/projects/${orgProject(one()[0]!).map(e).join('/')}`));
    case 'users list':
      return out(await api.get(`/api/v1/users${q({ org: values.org, ...page })}`), ['id', 'org', 'disabled', 'hasPassword', 'displayName']);
    case 'users create':
      return out(await api.post('/api/v1/users', { id: one()[0], ...opt('org', values.org), ...opt('email', values.email), ...opt('displayName', values['display-name']), ...opt('password', values['password-file'] === undefined ? undefined : secret(values['password-file'])) }));
    case 'users get':
      return out(await api.get(`/api/v1/users/${e(one()[0]!)}`));
    case 'users delete':
      return out(await api.delete(`/api/v1/users/${e(one()[0]!)}`));
    case 'users disable':
    case 'users enable':
      return out(await api.patch(`/api/v1/users/${e(one()[0]!)}`, { disabled: verb === 'disable' }));
    case 'users set-password':
      if (values['password-file'] === undefined) throw new UsageError('iam users set-password USER --password-file F');
      return out(await api.post(`/api/v1/users/${e(one()[0]!)}/password`, { password: secret(values['password-file']) }));
    case 'users unlock':
      return out(await api.post(`/api/v1/users/${e(one()[0]!)}/unlock`, {}));
    case 'groups list':
      return out(await api.get(`/api/v1/groups${q({ org: values.org, ...page })}`), ['id', 'org', 'members']);
    case 'groups create':
      return out(await api.post('/api/v1/groups', { id: one()[0], ...opt('org', values.org), ...opt('displayName', values['display-name']) }));
    case 'groups get':
      return out(await api.get(`/api/v1/groups/${e(one()[0]!)}`));
    case 'groups delete':
      return out(await api.delete(`/api/v1/groups/${e(one()[0]!)}`));
    case 'groups add-member':
      return out(await api.put(`/api/v1/group-members/${one(2).map(e).join('/')}`, {}));
    case 'groups remove-member':
      return out(await api.delete(`/api/v1/group-members/${one(2).map(e).join('/')}`));
    case 'service-accounts list':
      return out(await api.get(`/api/v1/service-accounts${q({ org: values.org, project: values.project, ...page })}`), ['id', 'org', 'project', 'disabled']);
    case 'service-accounts create':
      if (values.org === undefined || values.project === undefined) throw new UsageError('iam service-accounts create SA --org O --project P');
      return out(await api.post('/api/v1/service-accounts', { id: one()[0], org: values.org, project: values.project, ...opt('displayName', values['display-name']) }));
    case 'service-accounts get':
      return out(await api.get(`/api/v1/service-accounts/${e(one()[0]!)}`));
    case 'service-accounts delete':
      return out(await api.delete(`/api/v1/service-accounts/${e(one()[0]!)}`));
    case 'service-accounts disable':
    case 'service-accounts enable':
      return out(await api.patch(`/api/v1/service-accounts/${e(one()[0]!)}`, { disabled: verb === 'disable' }));
    case 'api-keys list':
      return out(await api.get(`/api/v1/api-keys${q({ serviceAccount: one()[0], ...page })}`), ['id', 'serviceAccount', 'description', 'expiresAtMs']);
    case 'api-keys create': {
      const expires = values['expires-in-sec'] === undefined ? undefined : integerFlag(values['expires-in-sec'], 'expires-in-sec', 0, 60, 10 * 365 * 86_400);
      const created = await api.post<{ key: string }>('/api/v1/api-keys', { serviceAccount: one()[0], ...opt('description', values.description), ...(expires === undefined ? {} : { expiresInSec: expires }) });
      if (outputFormat(values.output) === 'json') printJson(created);
      else process.stdout.write(`${created.key}\n(shown once: store it now; it cannot be shown again)\n`);
      return 0;
    }
    case 'api-keys delete':
      return out(await api.delete(`/api/v1/api-keys/${one(2).map(e).join('/')}`));
    case 'roles list': {
      const roles = await api.get<{ builtIn: unknown[]; items: unknown[] }>(`/api/v1/roles${q({ org: values.org, ...page })}`);
      return out(outputFormat(values.output) === 'json' ? roles : { items: [...roles.builtIn, ...roles.items] }, ['name', 'bindableAt', 'actions', 'org']);
    }
    case 'roles get':
      return out(await api.get(`/api/v1/roles/${e(one()[0]!)}`));
    case 'roles create':
      if (values.actions === undefined || values['bindable-at'] === undefined) throw new UsageError('iam roles create ROLE --actions a,b --bindable-at project[,org] [--org O]');
      return out(await api.post('/api/v1/roles', { name: one()[0], actions: values.actions.split(','), bindableAt: values['bindable-at'].split(','), ...opt('org', values.org), ...opt('description', values.description) }));
    case 'roles delete':
      return out(await api.delete(`/api/v1/roles/${e(one()[0]!)}`));
    case 'bindings list':
      return out(await api.get(`/api/v1/bindings${q({ org: values.org, project: values.project, principal: values.principal, ...page })}`), ['id', 'principal', 'role', 'scope']);
    case 'bindings get':
      return out(await api.get(`/api/v1/bindings/${e(one()[0]!)}`));
    case 'bindings delete':
      return out(await api.delete(`/api/v1/bindings/${e(one()[0]!)}`));
    case 'bindings create':
      if (values.principal === undefined || values.role === undefined || values.scope === undefined) throw new UsageError('iam bindings create --principal user:U --role R --scope system|ORG|ORG/PROJECT');
      return out(await api.post('/api/v1/bindings', { principal: principalRef(values.principal), role: values.role, scope: scopeOf(values.scope), ...opt('id', values.id) }));
    case `authorize ${verb}`: {
      const [action, kind] = args;
      if (verb === '' || action === undefined || kind === undefined || args.length !== 2) throw new UsageError('iam authorize PRINCIPAL ACTION KIND [--org O] [--project P] [--id ID]');
      const resource = { kind, ...opt('org', values.org), ...opt('project', values.project), ...opt('id', values.id) };
      return out(await api.post('/api/v1/authorize', { principal: verb, action, resource }));
    }
    case 'sessions list':
      return out(await api.get(`/api/v1/sessions${q({ principal: values.principal, ...page })}`), ['id', 'principal', 'org', 'project', 'revoked', 'expiresAtMs']);
    case 'sessions revoke':
      return out(await api.delete(`/api/v1/sessions/${e(one()[0]!)}`));
    case 'audit ':
      return out(await api.get(`/api/v1/audit${q({ since: values.since, until: values.until, principal: values.principal, outcome: values.outcome, action: values.action, ...page })}`), ['atMs', 'principal', 'action', 'resource', 'outcome', 'reason']);
    case 'keys rotate':
      return out(await api.post('/api/v1/keys/rotate', {}));
    case 'status ':
      return out(await api.get('/api/v1/status'));
    default:
      throw new UsageError(`unknown: iam ${group} ${verb ?? ''}\n${USAGE}`);
  }
}

/** A client for iam's endpoint with the credential commands use (--token, env, stored login, admin file). */
function client(values: Values): ApiClient {
  const dataDir = resolve(values['data-dir'] ?? DEFAULT_DATA_DIR);
  const login = values.token === undefined && process.env.ULTRACLOUD_TOKEN === undefined ? readLogin() : undefined;
  const url = values['iam-endpoint'] ?? process.env.ULTRACLOUD_IAM_ENDPOINT ?? login?.iam ?? componentEndpoint(IAM_API, undefined, dataDir);
  if (login !== undefined) return new ApiClient(url, login.accessToken, async () => (await refreshLogin(login))?.accessToken);
  const token = values.token ?? process.env.ULTRACLOUD_TOKEN ?? (existsSync(join(dataDir, 'admin-token')) ? readAdminToken(dataDir) : undefined);
  return new ApiClient(url, token);
}

function print(values: Values, result: unknown, columns?: readonly string[]): number {
  const items = (result as { items?: unknown[] } | undefined)?.items;
  if (outputFormat(values.output) === 'json' || columns === undefined || !Array.isArray(items)) {
    printJson(result);
    return 0;
  }
  printTable(columns, items.map((item) => columns.map((c) => cell((item as Record<string, unknown>)[c]))));
  const next = (result as { next?: string }).next;
  if (next !== undefined) process.stdout.write(`(more: --after ${next})\n`);
  return 0;
}

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') {
    const v = value as { kind?: string; id?: string; org?: string; project?: string };
    if (typeof v.kind === 'string' && typeof v.id === 'string') return `${v.kind}:${v.id}`;
    if (v.kind === 'system') return 'system';
    if (v.kind === 'org') return `org ${v.org}`;
    if (v.kind === 'project') return `project ${v.org}/${v.project}`;
    if (Array.isArray(value)) return value.join(',');
    return JSON.stringify(value);
  }
  return String(value);
}

function opt(name: string, value: string | undefined): Record<string, string> {
  return value === undefined ? {} : { [name]: value };
}

function orgProject(text: string): [string, string] {
  const parts = text.split('/');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') throw new UsageError(`expected ORG/PROJECT, got '${text}'`);
  return [parts[0]!, parts[1]!];
}

function principalRef(text: string): { kind: string; id: string } {
  const m = /^(user|group|serviceAccount):(.+)$/.exec(text);
  if (m === null) throw new UsageError(`--principal must be user:ID, group:ID or serviceAccount:ID, got '${text}'`);
  return { kind: m[1]!, id: m[2]! };
}

function scopeOf(text: string): Record<string, string> {
  if (text === 'system') return { kind: 'system' };
  const parts = text.split('/');
  if (parts.length === 1 && parts[0] !== '') return { kind: 'org', org: parts[0]! };
  if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return { kind: 'project', org: parts[0]!, project: parts[1]! };
  throw new UsageError(`--scope must be system, ORG or ORG/PROJECT, got '${text}'`);
}

function secret(file: string): string {
  if (!existsSync(file)) throw new UltraError('NotFound', `no password file at ${file}`);
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}

function whoami(values: Values): number {
  const login = readLogin();
  if (login === undefined) throw new UltraError('NotFound', `not logged in (no ${credentialsFile()}); run \`ultracloud login\``);
  const info = { principal: login.principal, ...opt('org', login.org), ...opt('project', login.project), ...opt('iam', login.iam), ...(login.expiresAtMs === undefined ? {} : { expiresAtMs: login.expiresAtMs }), file: credentialsFile() };
  if (outputFormat(values.output) === 'json') printJson(info);
  else printTable(Object.keys(info), [Object.values(info)]);
  return 0;
}

/** Ends the stored login's session at iam (its tokens stop working everywhere) and forgets it. */
async function logout(values: Values): Promise<number> {
  const login = readLogin();
  if (login === undefined) {
    process.stdout.write('not logged in\n');
    return 0;
  }
  if (login.iam !== undefined) {
    const token = login.refreshToken ?? login.accessToken;
    await new ApiClient(values['iam-endpoint'] ?? login.iam, undefined).post('/api/v1/auth/revoke', { token }).catch((error: unknown) => {
      process.stderr.write(`warning: could not revoke the session at iam (${UltraError.from(error).message}); forgetting it locally\n`);
    });
  }
  removeLogin();
  process.stdout.write(`logged out (${login.principal})\n`);
  return 0;
}
