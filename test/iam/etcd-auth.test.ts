// chainfire's etcd API under the node's gate: which action each etcd method needs, and how the
// gate's answers become etcd's refusals.
import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { GateAuth, etcdAction } from '../../actors/chainfire/api/etcd-auth.ts';
import { UltraError } from '../../runtime/errors.ts';
import { SYSTEM_ADMIN, type AccessGate, type AccessRequest } from '../../runtime/http/access.ts';

const ADMIN = `uc_admin_${'12'.repeat(32)}`;

describe('etcd methods as iam actions', () => {
  it.each([
    ['/etcdserverpb.KV/Range', 'coordination:keys:read'],
    ['/etcdserverpb.Watch/Watch', 'coordination:keys:read'],
    ['/etcdserverpb.KV/Put', 'coordination:keys:write'],
    ['/etcdserverpb.KV/DeleteRange', 'coordination:keys:write'],
    ['/etcdserverpb.KV/Txn', 'coordination:keys:write'],
    ['/etcdserverpb.KV/Compact', 'coordination:store:compact'],
    ['/etcdserverpb.Lease/LeaseGrant', 'coordination:leases:write'],
    ['/etcdserverpb.Lease/LeaseKeepAlive', 'coordination:leases:write'],
    ['/etcdserverpb.Lease/LeaseTimeToLive', 'coordination:leases:read'],
    ['/etcdserverpb.Cluster/MemberList', 'coordination:members:read'],
    ['/etcdserverpb.Cluster/MemberAdd', 'coordination:members:write'],
    ['/etcdserverpb.Maintenance/Status', 'coordination:status:read'],
    ['/etcdserverpb.Maintenance/Defragment', 'coordination:store:admin'],
    ['/etcdserverpb.Maintenance/Snapshot', 'coordination:store:admin'],
    ['/etcdserverpb.Auth/UserAdd', 'coordination:store:admin'],
  ])('%s needs %s', (method, action) => expect(etcdAction(method)).toBe(action));
});

describe('GateAuth', () => {
  const seen: AccessRequest[] = [];
  const gate: AccessGate = {
    authenticate: (token) => {
      if (token === ADMIN) return Promise.resolve(SYSTEM_ADMIN);
      if (token === 'reader' || token === 'down') return Promise.resolve({ principal: `user:${token}` });
      return Promise.reject(new UltraError('Unauthenticated', 'invalid token'));
    },
    authenticateCertificate: (name) => {
      if (name === 'root') return Promise.resolve(SYSTEM_ADMIN);
      if (name === 'reader') return Promise.resolve({ principal: 'user:reader' });
      return Promise.reject(new UltraError('Unauthenticated', 'not a user'));
    },
    authorize: (caller, request) => {
      seen.push(request);
      if (caller.principal === 'user:down') return Promise.reject(new UltraError('Unavailable', 'iam unreachable'));
      if (caller.principal === 'user:reader' && request.action !== 'coordination:keys:read') return Promise.reject(new UltraError('PermissionDenied', 'no'));
      return Promise.resolve();
    },
  };
  const auth = new GateAuth({
    gate,
    adminToken: ADMIN,
    login: (name, password) => (name === 'reader' && password === 'pw' ? Promise.resolve('reader') : Promise.reject(new UltraError('Unauthenticated', 'invalid credentials'))),
  });
  /** A call to `path` with this token (or none) on a connection with this client certificate (or none). */
  const call = (token: string | undefined, path: string, clientName?: string) => {
    const metadata = new Metadata();
    if (token !== undefined) metadata.set('token', token);
    return { metadata, path, clientName };
  };

  it('logs in iam users, and root with the admin credential only', async () => {
    expect(await auth.authenticate('reader', 'pw')).toBe('reader');
    expect(await auth.authenticate('reader', 'nope')).toBeUndefined();
    expect(await auth.authenticate('root', ADMIN)).toBe(ADMIN);
    expect(await auth.authenticate('root', 'pw')).toBeUndefined();
  });

  it('authorizes every call with its action and maps the answers to etcd refusals', async () => {
    expect(await auth.check(call(undefined, '/etcdserverpb.KV/Range'))).toBe('missing');
    expect(await auth.check(call('forged', '/etcdserverpb.KV/Range'))).toBe('invalid');
    expect(await auth.check(call('reader', '/etcdserverpb.KV/Range'))).toBe('ok');
    expect(await auth.check(call('reader', '/etcdserverpb.KV/Put'))).toBe('denied');
    expect(await auth.check(call('down', '/etcdserverpb.KV/Range'))).toBe('unavailable');
    expect(await auth.check(call(ADMIN, '/etcdserverpb.Maintenance/Defragment'))).toBe('ok');
    expect(seen.map((r) => r.action)).toContain('coordination:keys:write');
    expect(seen.every((r) => r.resource.kind === 'keys')).toBe(true);
  });

  it('without a token, a verified client certificate names the caller; a token comes first', async () => {
    expect(await auth.check(call(undefined, '/etcdserverpb.KV/Range', 'reader'))).toBe('ok');
    expect(await auth.check(call(undefined, '/etcdserverpb.KV/Put', 'reader'))).toBe('denied');
    expect(await auth.check(call(undefined, '/etcdserverpb.Maintenance/Defragment', 'root'))).toBe('ok');
    expect(await auth.check(call(undefined, '/etcdserverpb.KV/Range', 'nobody'))).toBe('invalid');
    // etcd reads the token before the certificate: a bad token is refused whatever the certificate says.
    expect(await auth.check(call('forged', '/etcdserverpb.KV/Range', 'root'))).toBe('invalid');
    expect(await auth.check(call('reader', '/etcdserverpb.KV/Put', 'root'))).toBe('denied');
  });
});
