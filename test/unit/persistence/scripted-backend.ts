// Test double: a MemoryBackend behind a KvBackend that can hold writes until released and inject
// write failures — before the write (nothing stored) or after it (stored, but reported failed).
import { UltraError } from '../../../runtime/errors.ts';
import { MemoryBackend, type KvBackend, type KvEntry, type KvOp, type KvRange, type KvWriteOptions } from '../../../runtime/persistence/index.ts';

export class ScriptedBackend implements KvBackend {
  readonly inner = new MemoryBackend();
  /** Every batch asked for, in order, with its sync flag. */
  readonly writes: Array<{ readonly ops: readonly KvOp[]; readonly sync: boolean }> = [];
  /** This many next batches fail without being stored. */
  failBefore = 0;
  /** This many next batches are stored and then reported as failed. */
  failAfter = 0;
  /** While true, batches wait for release(). */
  gated = false;
  #held: Array<() => void> = [];

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.inner.get(key);
  }

  async batch(ops: readonly KvOp[], options: KvWriteOptions): Promise<void> {
    this.writes.push({ ops, sync: options.sync });
    if (this.gated) await new Promise<void>((resolve) => this.#held.push(resolve));
    if (this.failBefore > 0) {
      this.failBefore--;
      throw new UltraError('Unavailable', 'injected write failure');
    }
    await this.inner.batch(ops, options);
    if (this.failAfter > 0) {
      this.failAfter--;
      throw new UltraError('Unavailable', 'injected failure after the write landed');
    }
  }

  iterate(range: KvRange): AsyncIterable<KvEntry> {
    return this.inner.iterate(range);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Batches waiting for release(). */
  get held(): number {
    return this.#held.length;
  }

  release(): void {
    for (const resolve of this.#held.splice(0)) resolve();
  }
}
