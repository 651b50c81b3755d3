// Behaviors that tests place on worker threads (a worker loads them by module URL and export name).
import { defineActor, type ActorRef, type Query } from '../../runtime/actors/index.ts';

export type CounterMsg =
  | { type: 'inc'; by: number }
  | ({ type: 'get' } & Query<number>)
  | ({ type: 'ask-other'; other: ActorRef<CounterMsg> } & Query<number>)
  | ({ type: 'hang' } & Query<number>)
  | { type: 'crash' };

export const counter = defineActor<{ n: number }, CounterMsg>({
  init: () => ({ n: 0 }),
  async receive(state, msg, ctx) {
    switch (msg.type) {
      case 'inc':
        return { n: state.n + msg.by };
      case 'get':
        ctx.reply(msg, state.n);
        return state;
      case 'ask-other': {
        const reply = ctx.deferReply(msg);
        reply.ok(await ctx.ask(msg.other, { type: 'get' }, { timeoutMs: 5_000 }));
        return state;
      }
      case 'hang':
        // Never answered: lets a test hold an ask open.
        return state;
      case 'crash':
        throw new Error('crash requested');
    }
  },
});
