// The cluster key's connection protector: @libp2p/pnet's preSharedKey, with two defects of
// @libp2p/pnet 3.0.27 contained until a release carries the upstream fix (libp2p/js-libp2p#3585;
// the newest release on our registry is 3.0.27, without it). Delete this module and use
// preSharedKey directly once that release is installed.
//
// 1. pnet XORs each chunk in one call into the xsalsa20 package's WebAssembly memory: 640 KiB,
//    shared by every cipher in the process, and unable to grow. A larger chunk throws
//    RangeError (Memory.grow) — on the read side from inside an event listener, which kills the
//    process. Chunks that large are ordinary under load: a socket resumed after backpressure
//    hands over everything it buffered at once. We cut every XOR call to MAX_XOR_BYTES.
// 2. pnet never finalizes its ciphers, so each connection keeps two 64-byte slots of that memory
//    for good; a few thousand connections (even from peers without the key, since the nonce
//    exchange comes first) leave no room for (1). We finalize them when the underlying
//    connection closes, after which no more bytes pass through them.
import type { ConnectionProtector, MessageStream } from '@libp2p/interface';
import { preSharedKey } from '@libp2p/pnet';

/** Largest chunk XORed in one call: far below the 640 KiB, less the cipher slots in use. */
const MAX_XOR_BYTES = 64 * 1024;

/** An xsalsa20 cipher as pnet uses it. */
interface Cipher {
  update(input: Uint8Array, output?: Uint8Array): Uint8Array;
  finalize(): void;
}

/** The pnet internals this workaround touches (private in its typings). */
interface BoxedStream {
  readonly inboundXor?: Cipher;
  readonly outboundXor?: Cipher;
}

/** A libp2p `connectionProtector` for the cluster key (as loadClusterKeyFile returns it). */
export function clusterKeyProtector(psk: Uint8Array): () => ConnectionProtector {
  const createPnet = preSharedKey({ psk });
  return () => {
    const pnet = createPnet();
    return {
      async protect(connection: MessageStream, options): Promise<MessageStream> {
        const boxed = await pnet.protect(connection, options);
        const ciphers = [(boxed as BoxedStream).inboundXor, (boxed as BoxedStream).outboundXor];
        for (const cipher of ciphers) if (cipher !== undefined) cipher.update = inChunks(cipher.update.bind(cipher));
        connection.addEventListener(
          'close',
          () => {
            for (const cipher of ciphers) {
              try {
                cipher?.finalize();
              } catch {
                // Already finalized: a pnet release that does this itself.
              }
            }
          },
          { once: true },
        );
        return boxed;
      },
    };
  };
}

/** `update`, one MAX_XOR_BYTES window at a time: the keystream runs on across calls. */
function inChunks(update: Cipher['update']): Cipher['update'] {
  return (input, output = new Uint8Array(input.length)) => {
    for (let at = 0; at < input.length; at += MAX_XOR_BYTES) {
      update(input.subarray(at, at + MAX_XOR_BYTES), output.subarray(at, at + MAX_XOR_BYTES));
    }
    return output;
  };
}
