// Certificates for tests and benches, made with Debian's openssl: a CA, and certificates it issues
// for IP addresses or client names (ECDSA P-256, valid two days, usable by servers and clients alike).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA: `dir`/`name`.crt and .key. */
export async function makeCa(dir: string, name: string): Promise<CertificateFiles> {
  await mkdir(dir, { recursive: true });
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await execa('openssl', ['req', '-x509', ...EC, '-keyout', files.key, '-out', files.cert, '-days', '2', '-subj', `/CN=${name}`]);
  return files;
}

/**
 * A certificate `ca` issued for `addresses` (IP subject alternative names), with `commonName` as its
 * CN (the first address by default; a client certificate's CN names its user, as with etcd).
 */
export async function issueCertificate(dir: string, name: string, ca: CertificateFiles, addresses: readonly string[], commonName = addresses[0]): Promise<CertificateFiles> {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const extensions = join(dir, `${name}.ext`);
  await execa('openssl', ['req', ...EC, '-keyout', files.key, '-out', csr, '-subj', `/CN=${commonName}`]);
  const altNames = addresses.length === 0 ? '' : `subjectAltName=${addresses.map((a) => `IP:${a}`).join(',')}\n`;
  await writeFile(extensions, `${altNames}extendedKeyUsage=serverAuth,clientAuth\n`);
  await execa('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', files.cert, '-days', '2', '-extfile', extensions]);
  return files;
}

/**
 * What `ultracloud cluster init --tls-dir DIR` reads: a CA and, for node i (1-based), DIR/nodeNN.crt
 * and .key issued for `addresses[i - 1]`. Returns the CA's files.
 */
export async function nodeCertificates(dir: string, addresses: readonly string[]): Promise<CertificateFiles> {
  const ca = await makeCa(dir, 'ca');
  for (const [i, address] of addresses.entries()) await issueCertificate(dir, nodeName(i), ca, [address]);
  return ca;
}

/** cluster init's name for node `index` (0-based): node01, node02, … */
export const nodeName = (index: number): string => `node${String(index + 1).padStart(2, '0')}`;
