// The production KvBackend: LevelDB through classic-level. Keys and values are byte arrays both
// ways ('view' encoding), and `sync` goes straight to LevelDB's write option, which fsyncs the
// write-ahead log before the batch resolves. LevelDB locks its directory, so one process owns it.
import { ClassicLevel, type Iterator } from 'classic-level';
import { UltraError } from '../errors.ts';
import type { KvBackend, KvEntry, KvOp, KvRange, KvWriteOptions } from './store.ts';

export class LevelBackend implements KvBackend {
  readonly #db: ClassicLevel<Uint8Array, Uint8Array>;

  private constructor(db: ClassicLevel<Uint8Array, Uint8Array>) {
    this.#db = db;
  }

  /** Opens (creating if missing) the LevelDB database in directory `dir`. */
  static async open(dir: string): Promise<LevelBackend> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (error) {
      throw levelError(`open ${dir}`, error);
    }
    return new LevelBackend(db);
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    try {
      return await this.#db.get(key);
    } catch (error) {
      throw levelError('get', error);
    }
  }

  async batch(ops: readonly KvOp[], options: KvWriteOptions): Promise<void> {
    try {
      await this.#db.batch([...ops], { sync: options.sync });
    } catch (error) {
      throw levelError('batch', error);
    }
  }

  iterate(range: KvRange): AsyncIterable<KvEntry> {
    // Created now: LevelDB iterators read from an implicit snapshot taken at creation.
    let iterator: Iterator<ClassicLevel<Uint8Array, Uint8Array>, Uint8Array, Uint8Array>;
    try {
      iterator = this.#db.iterator({
        ...(range.gte === undefined ? {} : { gte: range.gte }),
        ...(range.lt === undefined ? {} : { lt: range.lt }),
        ...(range.limit === undefined || range.limit === Infinity ? {} : { limit: range.limit }),
        reverse: range.reverse === true,
      });
    } catch (error) {
      // As with every other call, failures surface as rejections, here of the first next().
      const failure = levelError('iterate', error);
      return (async function* (): AsyncGenerator<KvEntry> {
        throw failure;
      })();
    }
    return (async function* () {
      try {
        for await (const entry of iterator) yield entry;
      } catch (error) {
        throw levelError('iterate', error);
      } finally {
        await iterator.close();
      }
    })();
  }

  async close(): Promise<void> {
    try {
      await this.#db.close();
    } catch (error) {
      throw levelError('close', error);
    }
  }
}

/** Corruption is a bug or a broken disk (Internal); anything else may pass (Unavailable). */
function levelError(operation: string, error: unknown): UltraError {
  const code = (error as { code?: unknown } | null)?.code;
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  const message = `${error instanceof Error ? error.message : String(error)}${cause}`;
  return new UltraError(code === 'LEVEL_CORRUPTION' ? 'Internal' : 'Unavailable', `leveldb ${operation} failed: ${message}`, {
    levelCode: typeof code === 'string' ? code : undefined,
  });
}
