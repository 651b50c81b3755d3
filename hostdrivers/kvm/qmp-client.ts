// A QMP (QEMU Machine Protocol) client over a unix socket: the greeting, capability negotiation,
// commands correlated by id with a deadline each, and asynchronous events. One connection per
// QEMU process (QMP serves one client per socket at a time).
import { connect, type Socket } from 'node:net';
import type { Env, Timer } from '../../runtime/env/env.ts';
import { UltraError } from '../../runtime/errors.ts';

export interface QmpEvent {
  readonly event: string;
  readonly data?: Record<string, unknown>;
}

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: Timer;
}

/** Bound on one QMP line: QEMU's replies here are small; anything bigger is a broken peer. */
const MAX_LINE_BYTES = 1024 * 1024;

export class QmpClient {
  readonly #socket: Socket;
  readonly #env: Env;
  readonly #pending = new Map<number, Pending>();
  readonly #eventListeners = new Set<(event: QmpEvent) => void>();
  readonly #closeListeners = new Set<() => void>();
  #buffer = '';
  #nextId = 1;
  #closed = false;

  private constructor(socket: Socket, env: Env) {
    this.#socket = socket;
    this.#env = env;
  }

  /** Connects, reads the greeting and enters command mode; Unavailable if QEMU does not answer in time. */
  static async connect(path: string, env: Env, timeoutMs = 5_000): Promise<QmpClient> {
    const socket = connect({ path });
    const client = new QmpClient(socket, env);
    const greeting = new Promise<void>((resolve, reject) => {
      const timer = env.setTimer(timeoutMs, () => {
        socket.destroy();
        reject(new UltraError('Unavailable', `QMP at ${path} did not greet within ${timeoutMs} ms`));
      });
      const fail = (error: Error): void => {
        timer.cancel();
        reject(new UltraError('Unavailable', `cannot connect to QMP at ${path}: ${error.message}`));
      };
      socket.once('error', fail);
      client.#onGreeting = () => {
        timer.cancel();
        socket.off('error', fail);
        resolve();
      };
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => client.#onData(chunk));
    socket.on('error', () => client.#close());
    socket.on('close', () => client.#close());
    await greeting;
    await client.execute('qmp_capabilities', undefined, timeoutMs);
    return client;
  }

  #onGreeting: (() => void) | undefined;

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs a command; rejects with the QMP error (FailedPrecondition) or Unavailable if QEMU went away. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
    if (this.#closed) return Promise.reject(new UltraError('Unavailable', `QMP connection closed (QEMU exited?); cannot run ${command}`));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = this.#env.setTimer(timeoutMs, () => {
        this.#pending.delete(id);
        reject(new UltraError('DeadlineExceeded', `QMP ${command} got no answer within ${timeoutMs} ms`));
      });
      this.#pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.#socket.write(`${JSON.stringify({ execute: command, ...(args === undefined ? {} : { arguments: args }), id })}\n`);
    });
  }

  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** Called once when the connection ends (QEMU exited, or close()). */
  onClose(listener: () => void): () => void {
    if (this.#closed) {
      listener();
      return () => {};
    }
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  close(): void {
    this.#socket.destroy();
    this.#close();
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    if (this.#buffer.length > MAX_LINE_BYTES && !this.#buffer.includes('\n')) {
      this.close();
      return;
    }
    let newline: number;
    while ((newline = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, newline).trim();
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line.length > 0) this.#onLine(line);
    }
  }

  #onLine(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if ('QMP' in message) {
      this.#onGreeting?.();
      this.#onGreeting = undefined;
      return;
    }
    if (typeof message.event === 'string') {
      const event: QmpEvent = { event: message.event, ...(typeof message.data === 'object' && message.data !== null ? { data: message.data as Record<string, unknown> } : {}) };
      for (const listener of this.#eventListeners) listener(event);
      return;
    }
    const id = typeof message.id === 'number' ? message.id : undefined;
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (pending === undefined || id === undefined) return;
    this.#pending.delete(id);
    pending.timer.cancel();
    if ('error' in message) {
      const error = message.error as { class?: string; desc?: string } | undefined;
      pending.reject(new UltraError('FailedPrecondition', `QMP ${pending.command}: ${error?.desc ?? 'error'} (${error?.class ?? 'GenericError'})`));
    } else {
      pending.resolve(message.return);
    }
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.timer.cancel();
      pending.reject(new UltraError('Unavailable', `QMP connection closed during ${pending.command} (QEMU exited?)`));
    }
    for (const listener of this.#closeListeners) listener();
    this.#closeListeners.clear();
  }
}
