// /system/node-status on every node: answers with the node's component statuses, so
// `ultracloud cluster status` asked on any node shows every member's health and Raft view.
import { defineActor, type Query } from '../actors/index.ts';

export const NODE_STATUS_NAME = 'node-status';
export const NODE_STATUS_PATH = `/system/${NODE_STATUS_NAME}`;

export type NodeStatusMsg = { readonly type: 'node.status' } & Query<Readonly<Record<string, unknown>>>;

export function nodeStatusActor(componentStatus: () => Promise<Record<string, unknown>>) {
  return defineActor<null, NodeStatusMsg>({
    init: () => null,
    receive: (state, message, ctx) => {
      const reply = ctx.deferReply(message);
      componentStatus().then(
        (status) => reply.ok(status),
        (error: unknown) => reply.error(error instanceof Error ? error : new Error(String(error))),
      );
      return state;
    },
  });
}
