// A bare etcd v3 gRPC client for tests that need what etcdctl cannot send or show: raw responses
// (watch fragments, progress notifications, snapshot blobs) and requests such as alarm ACTIVATE.
// Built from the same protos the server loads (etcd's field names and numbers).
import { Client, credentials, Metadata, type ClientDuplexStream, type MethodDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { afterAll, beforeAll } from 'vitest';
import { etcdServiceDefinitions, type EtcdServiceName } from '../../actors/chainfire/api/etcd-proto.ts';
import type { EtcdTestServer } from './etcdctl-harness.ts';

type Wire = Record<string, any>;

export class EtcdGrpcClient {
  readonly #client: Client;
  readonly #defs = etcdServiceDefinitions();
  #metadata = new Metadata();

  constructor(port: number) {
    this.#client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  }

  #method(service: EtcdServiceName, method: string): MethodDefinition<Wire, Wire> {
    return (this.#defs[service] as ServiceDefinition)[method] as MethodDefinition<Wire, Wire>;
  }

  async login(name: string, password: string): Promise<void> {
    const { token } = await this.unary('Auth', 'Authenticate', { name, password });
    this.#metadata = new Metadata();
    this.#metadata.set('token', String(token));
  }

  unary(service: EtcdServiceName, method: string, request: Wire): Promise<Wire> {
    const m = this.#method(service, method);
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, request, this.#metadata, (error, response) => {
        if (error) reject(error);
        else resolve(response!);
      });
    });
  }

  /** A unary call to any path (one no proto has, say), with an empty request. */
  unaryPath(path: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), this.#metadata, (error, response) => {
        if (error) reject(error);
        else resolve(response!);
      });
    });
  }

  /** Every response of a server-streaming call, in order. */
  serverStream(service: EtcdServiceName, method: string, request: Wire): Promise<Wire[]> {
    const m = this.#method(service, method);
    const call = this.#client.makeServerStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, request, this.#metadata);
    const responses: Wire[] = [];
    return new Promise((resolve, reject) => {
      call.on('data', (response: Wire) => responses.push(response));
      call.on('error', reject);
      call.on('end', () => resolve(responses));
    });
  }

  /** A Watch stream; `responses` collects what the server sends. */
  watch(): { readonly call: ClientDuplexStream<Wire, Wire>; readonly responses: Wire[] } {
    const m = this.#method('Watch', 'Watch');
    const call = this.#client.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, this.#metadata);
    const responses: Wire[] = [];
    call.on('data', (response: Wire) => responses.push(response));
    call.on('error', () => undefined);
    return { call, responses };
  }

  /** A WatchResponse's encoded size, as it travelled. */
  encodedWatchResponseSize(response: Wire): number {
    return this.#method('Watch', 'Watch').responseSerialize(response).length;
  }

  close(): void {
    this.#client.close();
  }
}

/** Starts `server` before the enclosing describe block's tests and stops it after; returns the block's bare client. */
export function withGrpcClient(server: EtcdTestServer): () => EtcdGrpcClient {
  let client: EtcdGrpcClient | undefined;
  beforeAll(async () => {
    await server.start();
    client = new EtcdGrpcClient(server.port);
  });
  afterAll(async () => {
    client?.close();
    await server.stop();
  });
  return () => client!;
}
