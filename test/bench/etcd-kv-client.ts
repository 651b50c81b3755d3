// The etcd v3 KV client the benchmarks drive both chainfire and etcd with: grpc-js unary calls built
// from the same protos (actors/chainfire/api/proto/), so the client's own cost is the same on both
// sides. Used by chainfire.bench.ts (loopback) and ha.bench.ts (3 nodes in network namespaces).
import { Client, credentials, Metadata, status, type MethodDefinition, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { etcdServiceDefinitions } from '../../actors/chainfire/api/etcd-proto.ts';

/** Connections (HTTP/2 channels) per endpoint; a client in flight uses channel (index mod CHANNELS). */
const CHANNELS = 8;
const CALL_TIMEOUT_MS = 30_000;
const MAX_ATTEMPTS = 5;

export type Wire = Record<string, unknown>;

/** Unary calls to one endpoint over CHANNELS separate connections, optionally logged in (etcd's `token` metadata). */
export class KvEndpoint {
  readonly address: string;
  readonly #value: Buffer;
  readonly #channels: Client[];
  readonly #defs = etcdServiceDefinitions();
  #metadata = new Metadata();

  /** `value`: what every put writes; `ca`: connect over TLS, trusting this PEM CA. */
  constructor(address: string, value: Buffer, ca?: Buffer) {
    this.address = address;
    this.#value = value;
    const channelCredentials = ca === undefined ? credentials.createInsecure() : credentials.createSsl(ca);
    // A local subchannel pool: otherwise grpc-js shares one connection among clients of the same target.
    this.#channels = Array.from({ length: CHANNELS }, () => new Client(address, channelCredentials, { 'grpc.use_local_subchannel_pool': 1 }));
  }

  /** Requests answered UNAVAILABLE (a leader change) and sent again, as clientv3 does. */
  retries = 0;

  async call(service: keyof ReturnType<typeof etcdServiceDefinitions>, method: string, request: Wire, channel = 0): Promise<Wire> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#once(service, method, request, channel);
      } catch (error) {
        if ((error as ServiceError).code !== status.UNAVAILABLE || attempt >= MAX_ATTEMPTS) {
          throw new Error(`${this.address} ${service}.${method}: ${(error as Error).message}`);
        }
        this.retries++;
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  }

  #once(service: keyof ReturnType<typeof etcdServiceDefinitions>, method: string, request: Wire, channel: number): Promise<Wire> {
    const definition = (this.#defs[service] as ServiceDefinition)[method] as MethodDefinition<Wire, Wire>;
    const client = this.#channels[channel % CHANNELS]!;
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(definition.path, definition.requestSerialize, definition.responseDeserialize, request, this.#metadata, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error, response) => {
        if (error) reject(error);
        else resolve(response!);
      });
    });
  }

  async login(user: string, password: string): Promise<void> {
    const { token } = await this.call('Auth', 'Authenticate', { name: user, password });
    this.#metadata = new Metadata();
    this.#metadata.set('token', String(token));
  }

  put(key: Buffer, channel: number): Promise<Wire> {
    return this.call('KV', 'Put', { key, value: this.#value }, channel);
  }

  range(key: Buffer, serializable: boolean, channel: number): Promise<Wire> {
    return this.call('KV', 'Range', { key, serializable }, channel);
  }

  /** The Raft term this endpoint reports: a change across a measurement means the leader changed. */
  async term(): Promise<string> {
    return String((await this.call('Maintenance', 'Status', {})).raftTerm);
  }

  /** [this member's id, the leader's id] ('0' while there is none). */
  async status(): Promise<[string, string]> {
    const s = await this.call('Maintenance', 'Status', {});
    return [String((s.header as Wire).member_id), String(s.leader)];
  }

  close(): void {
    for (const channel of this.#channels) channel.close();
  }
}

/** `total` requests from `clients` loops, each one request in flight; requests/s. */
export async function closedLoop(clients: number, total: number, request: (i: number, channel: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = next++; i < total; i = next++) await request(i, c);
    }),
  );
  return total / ((performance.now() - t0) / 1000);
}
