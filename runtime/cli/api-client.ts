// The CLI's client for a node's control API. Which node: --endpoint, else $ULTRACLOUD_ENDPOINT,
// else the endpoint file in the data dir (--data-dir, default ./.ultracloud). Which credential:
// --token, else $ULTRACLOUD_TOKEN, else the login `ultracloud login` stored (credentials.ts; an
// expired iam token is refreshed once on a 401), else the data dir's admin credential file.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UltraError, isErrorCode } from '../errors.ts';
import { readAdminToken } from '../node/admin-credential.ts';
import { readEndpointFile } from '../node/endpoint-file.ts';
import { readLogin, refreshLogin } from './credentials.ts';

export const DEFAULT_DATA_DIR = '.ultracloud';

export interface ClientFlags {
  readonly endpoint?: string | undefined;
  readonly 'data-dir'?: string | undefined;
  readonly token?: string | undefined;
}

export class ApiClient {
  readonly baseUrl: string;
  #token: string | undefined;
  readonly #refresh: (() => Promise<string | undefined>) | undefined;

  /** `refresh` gets a new token after a 401 (a stored login whose access token expired). */
  constructor(baseUrl: string, token: string | undefined, refresh?: () => Promise<string | undefined>) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#token = token;
    this.#refresh = refresh;
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

  async #request<T>(method: string, path: string, body: unknown, retried = false): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new UltraError('Unavailable', `cannot reach ${this.baseUrl} (${error instanceof Error ? error.message : String(error)}): is the node running? start it with \`ultracloud node start\` or pass --endpoint`);
    }
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
