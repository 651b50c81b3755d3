// The controller actor: prismnet's control plane as other components reach it (plasmavmc binding a
// VM's NIC, k8shost a pod's), registered with the receptionist as `prismnet-controller` on every
// node that runs prismnet. It keeps no state — the PrismnetService does everything against
// flaredb with compare-and-swap — so it serves requests concurrently: each is answered through a
// deferred reply when its work completes, and a slow bind never holds up a getPort.
import { defineActor, type ActorRef, type Behavior } from '../../runtime/actors/index.ts';
import type { ReceptionistMsg } from '../../runtime/cluster/receptionist.ts';
import { UltraError } from '../../runtime/errors.ts';
import { CONTROLLER_SERVICE, type ControllerMsg } from './client/messages.ts';
import type { PrismnetService } from './service.ts';

export interface ControllerOptions {
  readonly service: PrismnetService;
  readonly receptionist?: ActorRef<ReceptionistMsg>;
}

export function controllerActor(options: ControllerOptions): Behavior<null, ControllerMsg> {
  const { service } = options;
  const handle = async (msg: ControllerMsg): Promise<unknown> => {
    switch (msg.type) {
      case 'prismnet.create-port':
        return service.createPort(msg.scope, msg.spec);
      case 'prismnet.get-port':
        return service.getPort(msg.scope, msg.portId);
      case 'prismnet.bind-port':
        return service.bindPort(msg.scope, msg.portId, msg.node, msg.options);
      case 'prismnet.unbind-port':
        await service.unbindPort(msg.scope, msg.portId);
        return null;
      case 'prismnet.delete-port':
        await service.deletePort(msg.scope, msg.portId);
        return null;
      case 'prismnet.probe':
        return service.probe(msg.scope, msg.portId, msg.timeoutMs);
      case 'prismnet.list-device-ports':
        return service.devicePorts(msg.scope, msg.deviceOwner, msg.deviceId);
      default:
        throw new UltraError('InvalidArgument', `prismnet controller: unknown message type ${JSON.stringify((msg as { type?: unknown }).type)}`);
    }
  };
  return defineActor<null, ControllerMsg>({
    init(ctx) {
      if (options.receptionist !== undefined) ctx.tell(options.receptionist, { type: 'register', service: CONTROLLER_SERVICE, ref: ctx.self });
      return null;
    },
    receive(state, msg, ctx) {
      const reply = ctx.deferReply(msg);
      handle(msg).then(
        (value) => reply.ok(value as never),
        (error: unknown) => reply.error(UltraError.from(error)),
      );
      return state;
    },
  });
}
