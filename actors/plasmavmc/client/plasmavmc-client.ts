// A client of plasmavmc's HTTP API for the CLI, `ultracloud trial` and end-to-end tests: JSON calls
// (errors come back as UltraErrors with the server's code), the VM watch stream (server-sent
// events), waiting for a VM to reach a state while reporting every lifecycle event on the way, and
// following the serial console until a marker appears.
import { UltraError, isErrorCode, type ErrorCode } from '../../../runtime/errors.ts';
import type { ImageRecord, VmEventRecord, WorkerRecord } from '../core/model.ts';
import type { VmState } from '../core/lifecycle.ts';
import type { CreateVmRequest, RegisterImageRequest } from '../core/validate.ts';
import type { VmView, VmWatchEvent } from '../service.ts';
import { clientTlsInit } from '../../../runtime/http/client-tls.ts';

export interface ClientOptions {
  readonly token?: string;
  /** A new token after a 401 (a stored login whose access token expired). */
  readonly refresh?: () => Promise<string | undefined>;
  /** Tenant scope for operators whose token is not project-scoped. */
  readonly org?: string;
  readonly project?: string;
  /** Waits between polls (console follow) without a host timer of its own. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface ConsoleChunkView {
  readonly data: string;
  readonly offset: number;
  readonly next: number;
  readonly size: number;
  readonly node: string | null;
}

export type Page<T> = { readonly items: T[]; readonly next_page_token?: string };

export class PlasmavmcClient {
  readonly baseUrl: string;
  #token: string | undefined;
  readonly #options: ClientOptions;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#options = options;
  }

  // ── Images ──
  registerImage(request: RegisterImageRequest): Promise<ImageRecord> {
    return this.#json('POST', '/api/v1/images', request);
  }
  listImages(limit = 100, pageToken?: string): Promise<Page<ImageRecord>> {
    return this.#json('GET', `/api/v1/images${this.#query({ limit: String(limit), page_token: pageToken })}`);
  }
  getImage(id: string): Promise<ImageRecord> {
    return this.#json('GET', `/api/v1/images/${encodeURIComponent(id)}`);
  }
  deleteImage(id: string): Promise<{ deleted: string }> {
    return this.#json('DELETE', `/api/v1/images/${encodeURIComponent(id)}`);
  }

  // ── VMs ──
  createVm(request: CreateVmRequest): Promise<VmView> {
    return this.#json('POST', '/api/v1/vms', request);
  }
  listVms(limit = 100, pageToken?: string): Promise<Page<VmView>> {
    return this.#json('GET', `/api/v1/vms${this.#query({ limit: String(limit), page_token: pageToken })}`);
  }
  getVm(id: string): Promise<VmView> {
    return this.#json('GET', `/api/v1/vms/${encodeURIComponent(id)}`);
  }
  vmAction(id: string, verb: 'start' | 'stop' | 'reboot' | 'migrate', body: Record<string, unknown> = {}): Promise<VmView> {
    return this.#json('POST', `/api/v1/vms/${encodeURIComponent(id)}/${verb}`, body);
  }
  deleteVm(id: string): Promise<VmView> {
    return this.#json('DELETE', `/api/v1/vms/${encodeURIComponent(id)}`);
  }
  console(id: string, offset = 0, limit = 65536): Promise<ConsoleChunkView> {
    return this.#json('GET', `/api/v1/vms/${encodeURIComponent(id)}/console${this.#query({ offset: String(offset), limit: String(limit) })}`);
  }

  // ── Workers ──
  listWorkers(): Promise<{ items: (WorkerRecord & { live: boolean })[] }> {
    return this.#json('GET', '/api/v1/workers');
  }
  fenceWorker(node: string): Promise<WorkerRecord> {
    return this.#json('POST', `/api/v1/workers/${encodeURIComponent(node)}/fence`, {});
  }

  /**
   * Watches VM events (all of the project's, or one VM's) until `onEvent` returns true, the stream
   * ends, or `signal` aborts. `synced` marks the end of the initial listing.
   */
  async watch(onEvent: (event: VmWatchEvent | { readonly type: 'synced' } | { readonly type: 'reset'; readonly reason: string }) => boolean | void, options: { readonly vmId?: string; readonly signal?: AbortSignal } = {}): Promise<void> {
    const response = await this.#fetch('GET', `/api/v1/watch/vms${this.#query({ id: options.vmId })}`, undefined, options.signal);
    if (!response.ok || response.body === null) await this.#fail(response);
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = response.body!.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === undefined || data === undefined) continue;
          const payload = JSON.parse(data) as Record<string, unknown>;
          const stop = event === 'vm' ? onEvent(payload as VmWatchEvent) : event === 'synced' ? onEvent({ type: 'synced' }) : event === 'reset' ? onEvent({ type: 'reset', reason: String(payload.reason) }) : false;
          if (stop === true) return;
        }
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }

  /**
   * Waits until the VM is in `target` (or gone, for 'deleted'), calling `onEvent` for each lifecycle
   * event as it happens. Rejects with the VM's error when it fails on the way, DeadlineExceeded after
   * `timeoutMs`.
   */
  async waitFor(
    id: string,
    target: VmState | 'deleted',
    options: {
      readonly timeoutMs: number;
      readonly onEvent?: (event: VmEventRecord) => void;
      /** Only events at or after this time (ms since the epoch) are reported: the history before the request is not news. */
      readonly since?: number;
      readonly timer: (ms: number, fn: () => void) => { cancel(): void };
    },
  ): Promise<VmView | undefined> {
    const abort = new AbortController();
    const seen = new Set<string>();
    let result: VmView | undefined;
    let failure: UltraError | undefined;
    let finished = false;
    const timer = options.timer(options.timeoutMs, () => {
      failure ??= new UltraError('DeadlineExceeded', `VM ${id} did not become ${target} within ${options.timeoutMs} ms`);
      abort.abort();
    });
    try {
      await this.watch(
        (event) => {
          if (event.type === 'reset') {
            failure = new UltraError('Unavailable', `the watch stream was reset (${event.reason}); check the VM with \`ultracloud vm get ${id}\``);
            return true;
          }
          if (event.type === 'deleted') {
            finished = target === 'deleted';
            if (!finished) failure = new UltraError('NotFound', `VM ${id} was deleted`);
            return true;
          }
          if (event.type !== 'put') return false;
          const vm = event.vm;
          for (const e of vm.events) {
            const key = `${e.at}/${e.state}/${e.message}`;
            if (seen.has(key) || e.at < (options.since ?? 0)) continue;
            seen.add(key);
            options.onEvent?.(e);
          }
          result = vm;
          if (vm.state === target) {
            finished = true;
            return true;
          }
          if (vm.state === 'error' && target !== 'error') {
            failure = new UltraError((isErrorCode(vm.error?.code) ? vm.error.code : 'Internal') as ErrorCode, `VM ${vm.name} failed: ${vm.error?.message ?? 'unknown error'}`);
            return true;
          }
          return false;
        },
        { vmId: id, signal: abort.signal },
      );
    } catch (error) {
      if (failure === undefined) throw error;
    } finally {
      timer.cancel();
    }
    if (failure !== undefined) throw failure;
    if (!finished) throw new UltraError('Unavailable', `the watch stream of VM ${id} ended before it became ${target}`);
    return result;
  }

  /** Reads the console from `offset` until `until` appears (or `timeoutMs`), handing each chunk to `onData`. */
  async followConsole(id: string, options: { readonly until?: string; readonly offset?: number; readonly timeoutMs: number; readonly pollMs?: number; readonly onData: (text: string) => void; readonly now: () => number }): Promise<boolean> {
    const sleep = this.#options.sleep;
    if (sleep === undefined) throw new UltraError('Internal', 'followConsole needs ClientOptions.sleep');
    const deadline = options.now() + options.timeoutMs;
    let offset = options.offset ?? 0;
    let seen = '';
    for (;;) {
      const chunk = await this.console(id, offset);
      if (chunk.data.length > 0) {
        options.onData(chunk.data);
        seen = (seen + chunk.data).slice(-4096);
      }
      offset = chunk.next;
      if (options.until !== undefined && seen.includes(options.until)) return true;
      if (options.now() >= deadline) return options.until === undefined;
      if (chunk.next >= chunk.size) await sleep(options.pollMs ?? 500);
    }
  }

  #query(params: Record<string, string | undefined>): string {
    const all = { ...params, org_id: this.#options.org, project_id: this.#options.project };
    const s = new URLSearchParams(Object.entries(all).filter((p): p is [string, string] => p[1] !== undefined)).toString();
    return s === '' ? '' : `?${s}`;
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = path.includes('?') ? path : `${path}${this.#query({})}`;
    let response = await this.#fetch(method, url, body);
    if (response.status === 401 && this.#options.refresh !== undefined) {
      const token = await this.#options.refresh();
      if (token !== undefined) {
        this.#token = token;
        response = await this.#fetch(method, url, body);
      }
    }
    if (!response.ok) await this.#fail(response);
    return (await response.json()) as T;
  }

  async #fetch(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        ...clientTlsInit(),
        method,
        headers: { 'content-type': 'application/json', ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      if (signal?.aborted === true) throw new UltraError('DeadlineExceeded', 'the request was cancelled');
      throw new UltraError('Unavailable', `cannot reach plasmavmc at ${this.baseUrl} (${error instanceof Error ? error.message : String(error)}): is the node running? pass --vm-endpoint or set ULTRACLOUD_PLASMAVMC_ENDPOINT`);
    }
  }

  async #fail(response: Response): Promise<never> {
    const text = await response.text().catch(() => '');
    let parsed: { error?: { code?: unknown; message?: unknown } } | undefined;
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      parsed = undefined;
    }
    const code = isErrorCode(parsed?.error?.code) ? parsed.error.code : 'Internal';
    throw new UltraError(code, typeof parsed?.error?.message === 'string' ? parsed.error.message : `HTTP ${response.status}`);
  }
}
