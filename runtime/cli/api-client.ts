// The CLI's client for a node's control API. Which node: --endpoint, else $ULTRACLOUD_ENDPOINT,
// else the endpoint file in the data dir (--data-dir, default ./.ultracloud). Endpoints may be a
// comma-separated list (every node serves every API): a node that cannot be reached is skipped
// for the next, as etcdctl does with --endpoints. Which credential:
// --token, else $ULTRACLOUD_TOKEN, else the login `ultracloud login` stored (credentials.ts; an
// expired iam token is refreshed once on a 401), else the data dir's admin credential file. Nodes
// serving TLS: --cacert or $ULTRACLOUD_CACERT, and a client certificate (runtime/http/client-tls.ts).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UltraError, isErrorCode } from '../errors.ts';
import { readAdminToken } from '../node/admin-credential.ts';
import { readEndpointFile } from '../node/endpoint-file.ts';
import { readLogin, refreshLogin } from './credentials.ts';
import { clientTls, clientTlsInit, CLIENT_TLS_ENV } from '../http/client-tls.ts';

export const DEFAULT_DATA_DIR = '.ultracloud';

export interface ClientFlags {
  readonly endpoint?: string | undefined;
  readonly 'data-dir'?: string | undefined;
  readonly token?: string | undefined;
}

/**
 * Errors that say a request never reached the server, so another node may take it even when it is
 * not idempotent; anything else (a reset or timeout mid-request) is retried elsewhere only for reads.
 */
const NOT_DELIVERED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** OpenSSL's verification failures as Node names them: the handshake failed, so nothing was sent either. */
const UNTRUSTED_CERTIFICATE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

export class ApiClient {
  readonly #urls: readonly string[];
  /** The endpoint that answered last: tried first next time. */
  #current = 0;
  #token: string | undefined;
  readonly #refresh: (() => Promise<string | undefined>) | undefined;

  /**
   * `baseUrls`: one URL, or several comma-separated (tried in turn when one is unreachable).
   * `refresh` gets a new token after a 401 (a stored login whose access token expired).
   */
  constructor(baseUrls: string, token: string | undefined, refresh?: () => Promise<string | undefined>) {
    this.#urls = baseUrls.split(',').map((url) => url.trim().replace(/\/+$/, '')).filter((url) => url.length > 0);
    if (this.#urls.length === 0) throw new UltraError('InvalidArgument', 'no endpoint given: pass --endpoint URL[,URL…]');
    this.#token = token;
    this.#refresh = refresh;
  }

  /** The endpoint in use (the one that answered last). */
  get baseUrl(): string {
    return this.#urls[this.#current]!;
  }

  static fromFlags(flags: ClientFlags): ApiClient {
    const dataDir = resolve(flags['data-dir'] ?? DEFAULT_DATA_DIR);
    const endpoint = flags.endpoint ?? process.env.ULTRACLOUD_ENDPOINT ?? readEndpointFile(dataDir).http;
    const explicit = flags.token ?? process.env.ULTRACLOUD_TOKEN;
    const login = explicit === undefined ? readLogin() : undefined;
    if (login !== undefined) return new ApiClient(endpoint, login.accessToken, async () => (await refreshLogin(login))?.accessToken);
    const token = explicit ?? (existsSync(join(dataDir, 'admin-token')) ? readAdminToken(dataDir) : undefined);
    return new ApiClient(endpoint, token);
  }

  async get<T>(path: string): Promise<T> {
    return this.#request<T>('GET', path, undefined);
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.#request<T>('POST', path, body);
  }

  async put<T>(path: string, body: unknown): Promise<T> {
    return this.#request<T>('PUT', path, body);
  }

  async patch<T>(path: string, body: unknown): Promise<T> {
    return this.#request<T>('PATCH', path, body);
  }

  async delete<T>(path: string): Promise<T> {
    return this.#request<T>('DELETE', path, undefined);
  }

  /** Sends to the current endpoint, moving on to the next ones while a node cannot be reached. */
  async #send(method: string, path: string, body: unknown): Promise<Response> {
    const failures: string[] = [];
    let untrusted = false;
    // A node that requires client certificates refuses one without after the TLS 1.3 handshake: the
    // client sees only the connection closed, so that is said as a possibility.
    let closedOverTls = false;
    for (let tried = 0; tried < this.#urls.length; tried++) {
      const url = this.baseUrl;
      try {
        return await fetch(`${url}${path}`, {
          ...clientTlsInit(),
          method,
          headers: { 'content-type': 'application/json', ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
        failures.push(`${url}: ${typeof cause?.message === 'string' ? cause.message : error instanceof Error ? error.message : String(error)}`);
        const code = typeof cause?.code === 'string' ? cause.code : '';
        untrusted ||= UNTRUSTED_CERTIFICATE.test(code);
        closedOverTls ||= url.startsWith('https:') && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET');
        const delivered = !(NOT_DELIVERED.has(code) || UNTRUSTED_CERTIFICATE.test(code));
        if (delivered && method !== 'GET') {
          throw new UltraError('Unavailable', `${url} failed during ${method} ${path} (${failures.at(-1)}): it may or may not have taken effect — check before retrying`);
        }
        this.#current = (this.#current + 1) % this.#urls.length;
      }
    }
    if (untrusted) {
      throw new UltraError('Unavailable', `cannot reach ${failures.join('; ')}: the node's TLS certificate is not trusted here; set ${CLIENT_TLS_ENV.ca} (or pass --cacert) to the PEM file of the CA that issued it`);
    }
    if (closedOverTls && clientTls().cert === undefined) {
      throw new UltraError('Unavailable', `cannot reach ${failures.join('; ')}: if the node requires client certificates, set ${CLIENT_TLS_ENV.cert} and ${CLIENT_TLS_ENV.key} (or pass --client-cert and --client-key) to one its client CA issued`);
    }
    throw new UltraError('Unavailable', `cannot reach ${failures.join('; ')}: is the node running? start it with \`ultracloud node start\`, or pass --endpoint with other nodes (comma-separated)`);
  }

  async #request<T>(method: string, path: string, body: unknown, retried = false): Promise<T> {
    const response = await this.#send(method, path, body);
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      throw new UltraError('Internal', `${this.baseUrl}${path} answered ${response.status} with non-JSON`);
    }
    if (response.status === 401 && !retried && this.#refresh !== undefined) {
      const token = await this.#refresh();
      if (token !== undefined) {
        this.#token = token;
        return this.#request<T>(method, path, body, true);
      }
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      const code = isErrorCode(error?.code) ? error.code : 'Internal';
      throw new UltraError(code, typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`);
    }
    return parsed as T;
  }
}
