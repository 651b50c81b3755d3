// The comlink side of the worker-boundary benchmark: a counter object exposed to the parent.
import { parentPort } from 'node:worker_threads';
import * as Comlink from 'comlink';
// @ts-expect-error comlink ships its node adapter without type declarations for this path
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';

let n = 0;
if (parentPort !== null) {
  Comlink.expose({ inc: (by: number) => (n += by), get: () => n }, nodeEndpoint(parentPort));
}
