// The fast path's building blocks on their own: node certificates made from a libp2p identity
// (self-signed, naming and proving the peer id), and TLS links that check who is at the other end.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeIdentity } from '../../transports/libp2p/identity.ts';
import { certificatePeerId, nodeCertificate } from '../../transports/tls/node-certificate.ts';
import { dialTls, listenTls, type TlsListener } from '../../transports/tls/tls-link.ts';
import { env, TestCluster } from './libp2p-test-nodes.ts';

let cluster: TestCluster;
const listeners: TlsListener[] = [];
afterEach(async () => {
  for (const listener of listeners.splice(0)) await listener.close();
  await cluster.cleanup();
});

function publicKeyOf(identity: NodeIdentity) {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(identity.privateKey.publicKey.raw).toString('base64url') }, format: 'jwk' });
}

describe('node certificate', () => {
  it('is a self-signed X.509 v3 certificate for the node key, naming its peer id', async () => {
    cluster = await TestCluster.create();
    const identity = await cluster.identity('a');
    const made = nodeCertificate(identity);
    const certificate = new X509Certificate(made.certPem);
    expect(Buffer.from(certificate.raw)).toEqual(Buffer.from(made.certDer));
    expect(certificate.subject).toBe(`CN=${identity.nodeId}`);
    expect(certificate.issuer).toBe(`CN=${identity.nodeId}`);
    expect(certificate.validToDate.getUTCFullYear()).toBe(2099);
    expect(certificate.verify(publicKeyOf(identity))).toBe(true);
    expect(certificate.checkPrivateKey(made.privateKey)).toBe(true);
    expect(certificatePeerId(certificate).toString()).toBe(identity.nodeId);
    // The same key always makes the same certificate.
    expect(nodeCertificate(identity).certPem).toBe(made.certPem);
  });

  it('is not taken when its signature does not check out', async () => {
    cluster = await TestCluster.create();
    const der = Buffer.from(nodeCertificate(await cluster.identity('a')).certDer);
    der[der.length - 1]! ^= 0xff;
    const tampered = new X509Certificate(der);
    expect(() => certificatePeerId(tampered)).toThrow(expect.objectContaining({ code: 'PermissionDenied' }));
  });
});

describe('TLS link', () => {
  it('connects to the expected peer, and refuses to talk to any other', async () => {
    cluster = await TestCluster.create();
    const key = await cluster.clusterKey();
    const [server, client, expected] = await Promise.all(['server', 'client', 'expected'].map((name) => cluster.identity(name)));
    const accepted: string[] = [];
    const listener = await listenTls(
      { host: '127.0.0.1', port: 0 },
      { certificate: nodeCertificate(server!), clusterKey: key },
      (socket, peer) => {
        accepted.push(peer.toString());
        socket.destroy();
      },
      () => {},
    );
    listeners.push(listener);
    const credentials = { certificate: nodeCertificate(client!), clusterKey: key };
    const socket = await dialTls(listener.address, server!.nodeId, credentials, env);
    expect(socket.getProtocol()).toBe('TLSv1.3');
    socket.destroy();
    await expect(dialTls(listener.address, expected!.nodeId, credentials, env)).rejects.toMatchObject({ code: 'PermissionDenied' });
    expect(accepted[0]).toBe(client!.nodeId);
  });
});
