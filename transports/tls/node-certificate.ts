// A node's TLS credentials, made from its libp2p identity: the same Ed25519 key as a Node KeyObject,
// and a self-signed X.509 v3 certificate for it, so that a plain TLS 1.3 connection proves the
// same node id that noise proves on libp2p. Nothing here is trusted for its issuer or dates: a
// peer's certificate only carries its public key, and the peer id is computed from that key (the
// TLS handshake's CertificateVerify proves the peer holds it). The DER is written by hand because
// Node can read certificates but not make them, and one fixed layout needs only a few encoders.
import { createPrivateKey, sign, type KeyObject, type X509Certificate } from 'node:crypto';
import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { UltraError } from '../../runtime/errors.ts';
import type { NodeIdentity } from '../libp2p/identity.ts';

export interface NodeCertificate {
  readonly privateKey: KeyObject;
  /** PKCS#8 PEM of privateKey: what node:tls takes. */
  readonly keyPem: string;
  readonly certDer: Uint8Array;
  readonly certPem: string;
}

const ED25519_KEY_BYTES = 32;
/** 1.3.101.112, id-Ed25519 (RFC 8410), with no parameters: both the key and the signature algorithm. */
const ED25519_ALGORITHM = der(0x30, der(0x06, Uint8Array.of(0x2b, 0x65, 0x70)));
/** 2.5.4.3, id-at-commonName. */
const COMMON_NAME_OID = der(0x06, Uint8Array.of(0x55, 0x04, 0x03));
/** Fixed, so that making a certificate needs no clock; 2099 must be GeneralizedTime (UTCTime ends at 2049). */
const VALIDITY = der(0x30, der(0x17, ascii('200101000000Z')), der(0x18, ascii('20991231235959Z')));

/** The node's key as a KeyObject and a self-signed certificate naming its peer id (CN=<peer id>). */
export function nodeCertificate(identity: NodeIdentity): NodeCertificate {
  // libp2p's raw Ed25519 private key is the 32-byte seed followed by the 32-byte public key.
  const seed = identity.privateKey.raw.subarray(0, ED25519_KEY_BYTES);
  const publicKey = identity.privateKey.publicKey.raw;
  const privateKey = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: base64url(seed), x: base64url(publicKey) },
    format: 'jwk',
  });
  const name = der(0x30, der(0x31, der(0x30, COMMON_NAME_OID, der(0x0c, ascii(identity.nodeId)))));
  // Derived from the key, so a key always yields the same certificate; the top bits keep the
  // INTEGER positive and minimally encoded.
  const serial = publicKey.slice(0, 8);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  const tbs = der(
    0x30,
    der(0xa0, der(0x02, Uint8Array.of(2))),
    der(0x02, serial),
    ED25519_ALGORITHM,
    name,
    VALIDITY,
    name,
    der(0x30, ED25519_ALGORITHM, der(0x03, Uint8Array.of(0), publicKey)),
  );
  const signature = sign(null, tbs, privateKey);
  const certDer = der(0x30, tbs, ED25519_ALGORITHM, der(0x03, Uint8Array.of(0), signature));
  return {
    privateKey,
    keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    certDer,
    certPem: pem(certDer),
  };
}

/**
 * The peer id of the key in a peer's certificate. PermissionDenied unless it is an Ed25519 key
 * that signed the certificate itself: the only kind a node presents.
 */
export function certificatePeerId(certificate: X509Certificate): PeerId {
  const key = certificate.publicKey;
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new UltraError('PermissionDenied', `peer certificate has a ${String(key.asymmetricKeyType)} key; node keys are Ed25519`);
  }
  if (!certificate.verify(key)) throw new UltraError('PermissionDenied', 'peer certificate is not signed by its own key');
  const raw = Buffer.from(key.export({ format: 'jwk' }).x ?? '', 'base64url');
  if (raw.length !== ED25519_KEY_BYTES) throw new UltraError('PermissionDenied', 'peer certificate has a malformed Ed25519 key');
  return peerIdFromPublicKey(publicKeyFromRaw(raw));
}

/** One DER TLV: `tag`, the definite length, then the parts concatenated. */
function der(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  // Short form below 128; long form with one or two length bytes covers everything made here.
  const header = length < 0x80 ? [tag, length] : length < 0x100 ? [tag, 0x81, length] : [tag, 0x82, length >> 8, length & 0xff];
  const out = new Uint8Array(header.length + length);
  out.set(header);
  let offset = header.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

function pem(certDer: Uint8Array): string {
  const lines = Buffer.from(certDer).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
