// The VM watch stream as server-sent events: first the project's VMs as they are (`put` events,
// then `synced`), then every change; a comment line every `keepAliveMs` keeps proxies from timing
// the connection out. The feed starts before the listing, so no change falls between them (a VM
// may come twice; events carry whole records, so the later one wins). A client too slow to keep up
// (more than `maxQueued` events waiting), or a feed that may have lost events, gets `reset` and the
// stream ends: re-list and watch again.
import type { Env } from '../../../runtime/env/env.ts';
import type { ChangeFeed } from '../../flaredb/client/strong-kv.ts';
import type { VmView, VmWatchEvent } from '../service.ts';

export interface VmEventSource {
  watch(onEvent: (event: VmWatchEvent) => void, onReset: () => void): Promise<ChangeFeed>;
  list(): Promise<VmView[]>;
}

export interface EventStreamOptions {
  readonly env: Env;
  readonly keepAliveMs?: number;
  readonly maxQueued?: number;
  /** Only this VM's events. */
  readonly vmId?: string;
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function vmEventStream(source: VmEventSource, options: EventStreamOptions): AsyncIterable<string> {
  const maxQueued = options.maxQueued ?? 1_000;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const wanted = (id: string): boolean => options.vmId === undefined || options.vmId === id;
  return {
    [Symbol.asyncIterator]() {
      const queue: string[] = [];
      let wake: (() => void) | undefined;
      let ended = false;
      let feed: ChangeFeed | undefined;
      let started = false;
      let timer: { cancel(): void } | undefined;
      const push = (chunk: string): void => {
        if (ended) return;
        if (queue.length >= maxQueued) {
          queue.length = 0;
          queue.push(sse('reset', { reason: 'the client fell behind; re-list and watch again' }));
          finish();
        } else {
          queue.push(chunk);
        }
        wake?.();
      };
      const finish = (): void => {
        ended = true;
        feed?.cancel();
        timer?.cancel();
        wake?.();
      };
      const keepAlive = (): void => {
        timer = options.env.setTimer(keepAliveMs, () => {
          if (ended) return;
          queue.push(': keep-alive\n\n');
          wake?.();
          keepAlive();
        });
      };
      const start = async (): Promise<void> => {
        feed = await source.watch(
          (event) => {
            if (event.type === 'put' && wanted(event.vm.id)) push(sse('vm', event));
            else if (event.type === 'deleted' && wanted(event.id)) push(sse('vm', event));
          },
          () => {
            push(sse('reset', { reason: 'events may have been missed; re-list and watch again' }));
            finish();
          },
        );
        if (ended) feed.cancel();
        for (const vm of await source.list()) if (wanted(vm.id)) push(sse('vm', { type: 'put', vm }));
        push(sse('synced', {}));
        keepAlive();
      };
      return {
        async next(): Promise<IteratorResult<string>> {
          if (!started) {
            started = true;
            try {
              await start();
            } catch (error) {
              finish();
              throw error;
            }
          }
          while (queue.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          const chunk = queue.shift();
          return chunk === undefined ? { done: true, value: undefined } : { done: false, value: chunk };
        },
        async return(): Promise<IteratorResult<string>> {
          finish();
          return { done: true, value: undefined };
        },
      };
    },
  };
}
