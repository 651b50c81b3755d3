// The HTTP clients' TLS settings from the environment (runtime/http/client-tls.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { clientTls, clientTlsInit, setClientTlsFiles } from '../../../runtime/http/client-tls.ts';

const dir = mkdtempSync(join(tmpdir(), 'uc-client-tls-'));
const pem = join(dir, 'ca.pem');
writeFileSync(pem, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
const other = join(dir, 'other.pem');
writeFileSync(other, 'another CA\n');
afterAll(() => {
  setClientTlsFiles({});
  rmSync(dir, { recursive: true, force: true });
});

describe('clientTlsInit', () => {
  it('adds nothing when no variable is set', () => {
    expect(clientTlsInit({})).toEqual({});
  });

  it('gives fetch a dispatcher for a CA, the same one while the variables stay the same', () => {
    const init = clientTlsInit({ ULTRACLOUD_CACERT: pem }) as { dispatcher?: unknown };
    expect(init.dispatcher).toBeInstanceOf(Agent);
    expect(clientTlsInit({ ULTRACLOUD_CACERT: pem })).toBe(init);
    expect(clientTlsInit({ ULTRACLOUD_CACERT: pem, ULTRACLOUD_CERT: pem, ULTRACLOUD_KEY: pem })).not.toBe(init);
  });

  it('wants a client certificate and key together, and names an unreadable file', () => {
    expect(() => clientTlsInit({ ULTRACLOUD_CERT: pem })).toThrow(/ULTRACLOUD_CERT and ULTRACLOUD_KEY/);
    expect(() => clientTlsInit({ ULTRACLOUD_KEY: pem })).toThrow(/ULTRACLOUD_CERT and ULTRACLOUD_KEY/);
    const missing = join(dir, 'missing.pem');
    expect(() => clientTlsInit({ ULTRACLOUD_CACERT: missing })).toThrow(expect.objectContaining({ code: 'InvalidArgument', message: expect.stringContaining(`ULTRACLOUD_CACERT=${missing}`) }));
  });

  it('takes the CLI flags over the environment, one by one, and reads the files for other clients', () => {
    setClientTlsFiles({ ca: other });
    expect(clientTls({ ULTRACLOUD_CACERT: pem }).ca?.toString()).toBe('another CA\n');
    expect(clientTls({ ULTRACLOUD_CERT: pem, ULTRACLOUD_KEY: pem })).toMatchObject({ ca: Buffer.from('another CA\n'), cert: readFileSync(pem), key: readFileSync(pem) });
    setClientTlsFiles({ cert: pem });
    expect(() => clientTls({})).toThrow(/--client-cert and --client-key/);
    setClientTlsFiles({});
    expect(clientTls({})).toEqual({});
  });
});
