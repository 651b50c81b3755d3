// An AccessGate for API tests of tenant-scoped components: tokens name callers ('admin' is the
// system admin, 'alice' acts in acme/web, 'bob' in other/app), and a tenant caller may act only
// in its own project — the rule iam enforces. Every authorization request is recorded.
import { UltraError } from '../../runtime/errors.ts';
import type { AccessGate, AccessRequest, Caller } from '../../runtime/http/access.ts';

export function tenantGate(decisions: AccessRequest[]): AccessGate {
  const callers: Record<string, Caller> = { admin: { principal: 'system:admin' }, alice: { principal: 'user:alice', org: 'acme', project: 'web' }, bob: { principal: 'user:bob', org: 'other', project: 'app' } };
  return {
    authenticate: (token) => (token !== undefined && callers[token] !== undefined ? Promise.resolve(callers[token]!) : Promise.reject(new UltraError('Unauthenticated', 'bad token'))),
    authenticateCertificate: () => Promise.reject(new UltraError('Unauthenticated', 'no client certificates in these tests')),
    authorize: (caller, request) => {
      decisions.push(request);
      if (caller.org !== undefined && (request.resource.org !== caller.org || request.resource.project !== caller.project)) {
        return Promise.reject(new UltraError('PermissionDenied', `${caller.principal} may not ${request.action} in ${request.resource.org}/${request.resource.project}`));
      }
      return Promise.resolve();
    },
  };
}
