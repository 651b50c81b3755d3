// The node's control API, what the `ultracloud` CLI talks to: health and metrics (open, for probes
// and Prometheus), and — behind the admin bearer token — status, the actor tree, and the actor
// message endpoints (`send` / `ask` a JSON message to an actor by node and path).
import { ANY_INCARNATION, type ActorInfo, type ActorRef, type ActorSystem, type Message } from '../actors/index.ts';
import { UltraError } from '../errors.ts';
import type { Route } from '../http/json-server.ts';
import { EXPOSITION_CONTENT_TYPE } from '../metrics/exposition.ts';

export interface ControlApiOptions {
  readonly system: ActorSystem;
  /** The status of each component this node hosts (its health, replication view, resource counts). */
  readonly components: () => Promise<Readonly<Record<string, unknown>>>;
  readonly startedAtMs: number;
  /** Longest ask the API will wait for. */
  readonly maxAskTimeoutMs?: number;
}

export interface ActorMessageRequest {
  readonly target: string;
  readonly path: string;
  readonly message: Message;
  readonly timeoutMs?: number;
}

const DEFAULT_ASK_TIMEOUT_MS = 5_000;

export function controlRoutes(options: ControlApiOptions): Route[] {
  const { system } = options;
  const maxAskTimeoutMs = options.maxAskTimeoutMs ?? 60_000;
  return [
    { method: 'GET', path: '/health', auth: false, handle: () => ({ status: 'ok', node: system.nodeId }) },
    { method: 'GET', path: '/metrics', auth: false, handle: () => ({ text: system.metrics.expose(), contentType: EXPOSITION_CONTENT_TYPE }) },
    {
      method: 'GET',
      path: '/v1/status',
      action: 'cluster:status:read',
      resource: () => ({ kind: 'status' }),
      handle: async () => ({
        node: system.nodeId,
        uptimeMs: system.env.now() - options.startedAtMs,
        components: await options.components(),
        actors: countActors(system),
        actorTree: summarizeTree(system),
        deadLetters: system.deadLetterCount,
      }),
    },
    {
      method: 'GET',
      path: '/v1/actors',
      action: 'cluster:actors:read',
      resource: () => ({ kind: 'actors' }),
      handle: (req) => {
        const depthText = req.query.get('depth');
        const depth = depthText === null ? Infinity : Number(depthText);
        if (!Number.isInteger(depth) && depth !== Infinity) throw new UltraError('InvalidArgument', `depth must be a whole number, got '${depthText}'`);
        return { node: system.nodeId, tree: system.actorTree(depth) };
      },
    },
    {
      method: 'POST',
      path: '/v1/actors/send',
      action: 'cluster:actors:send',
      resource: () => ({ kind: 'actors' }),
      handle: (req) => {
        const { ref, message } = resolve(system, parseActorMessage(req.body));
        system.tell(ref, message);
        return { status: 202, body: { sent: true, to: ref } };
      },
    },
    {
      method: 'POST',
      path: '/v1/actors/ask',
      action: 'cluster:actors:send',
      resource: () => ({ kind: 'actors' }),
      handle: async (req) => {
        const request = parseActorMessage(req.body);
        const timeoutMs = request.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
        if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > maxAskTimeoutMs) {
          throw new UltraError('InvalidArgument', `timeoutMs must be a whole number from 1 to ${maxAskTimeoutMs}`);
        }
        const { ref, message } = resolve(system, request);
        return { reply: await system.ask(ref, message, { timeoutMs }) };
      },
    },
  ];
}

/** Validates the body of a send/ask request; malformed input is InvalidArgument and changes nothing. */
export function parseActorMessage(body: unknown): ActorMessageRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new UltraError('InvalidArgument', 'expected a JSON object { target, path, message }');
  const b = body as Record<string, unknown>;
  if (typeof b.target !== 'string' || b.target.length === 0) throw new UltraError('InvalidArgument', 'target must be a node id or "local"');
  if (typeof b.path !== 'string' || !/^(\/[A-Za-z0-9_.~:@+=$-]{1,128}){1,32}$/.test(b.path)) throw new UltraError('InvalidArgument', `path must look like /user/name, got ${JSON.stringify(b.path)}`);
  const message = b.message;
  if (typeof message !== 'object' || message === null || Array.isArray(message) || typeof (message as { type?: unknown }).type !== 'string') {
    throw new UltraError('InvalidArgument', 'message must be a JSON object with a string "type"');
  }
  if (b.timeoutMs !== undefined && typeof b.timeoutMs !== 'number') throw new UltraError('InvalidArgument', 'timeoutMs must be a number');
  return { target: b.target, path: b.path, message: message as Message, ...(typeof b.timeoutMs === 'number' ? { timeoutMs: b.timeoutMs } : {}) };
}

function resolve(system: ActorSystem, request: ActorMessageRequest): { ref: ActorRef<Message>; message: Message } {
  const node = request.target === 'local' ? system.nodeId : request.target;
  if (node === system.nodeId && system.lookup(request.path) === undefined) {
    throw new UltraError('NotFound', `no actor at ${request.path} on ${node} (see: ultracloud actors)`);
  }
  return { ref: { node, path: request.path, uid: ANY_INCARNATION }, message: request.message };
}

export interface SubtreeSummary {
  readonly path: string;
  readonly actors: number;
  readonly restarts: number;
  readonly mailbox: number;
}

/** Per subtree under /user and /system (a component, a system service): actors, restarts, queued messages. */
function summarizeTree(system: ActorSystem): SubtreeSummary[] {
  const total = (info: ActorInfo): { actors: number; restarts: number; mailbox: number } =>
    info.children.map(total).reduce((a, b) => ({ actors: a.actors + b.actors, restarts: a.restarts + b.restarts, mailbox: a.mailbox + b.mailbox }), { actors: 1, restarts: info.restarts, mailbox: info.mailboxSize });
  return system.actorTree().flatMap((guardian) => guardian.children.map((child) => ({ path: child.path, ...total(child) })));
}

function countActors(system: ActorSystem): number {
  let n = 0;
  const walk = (infos: ReturnType<ActorSystem['actorTree']>): void => {
    for (const i of infos) {
      n++;
      walk(i.children);
    }
  };
  walk(system.actorTree());
  return n;
}
