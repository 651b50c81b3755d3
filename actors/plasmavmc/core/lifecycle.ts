// The VM lifecycle as an explicit state machine: which event moves a VM from which state to which.
// Every writer (API, controller, agents) goes through `transition`, so an event that does not fit
// the current state is refused with FailedPrecondition before anything is written.
//
//   pending ─schedule─▶ scheduling ─placed─▶ creating ─started─▶ running ─stop─▶ stopping ─stopped─▶ stopped
//                                                ▲                  │  ▲                                │
//                                                └──────start───────┼──┼────────────────────────────────┘
//                                                                   migrate│migrated / migration-aborted
//                                                                   ▼  │
//                                                                 migrating
//   any state but migrating ─delete─▶ deleting (then the record is removed)
//   a VM without a worker: start goes to scheduling, stop straight to stopped (see service.ts)
//   error: entered on failures and on a lost worker; left by start, stop, delete or recovery
import { UltraError } from '../../../runtime/errors.ts';

export const VM_STATES = ['pending', 'scheduling', 'creating', 'running', 'stopping', 'stopped', 'migrating', 'deleting', 'error'] as const;
export type VmState = (typeof VM_STATES)[number];

/** Events requested through the API. */
export const API_EVENTS = ['start', 'stop', 'delete', 'migrate', 'reboot'] as const;
export type ApiEvent = (typeof API_EVENTS)[number];

/** Events the controller and the agents report. */
export const SYSTEM_EVENTS = [
  'schedule', // the controller picked up a new VM
  'placed', // a worker was reserved for it
  'reschedule', // its worker was fenced (or it must move): place it again
  'started', // its QEMU runs
  'stopped', // its QEMU is gone after a stop (or the guest powered itself off)
  'migrated', // a live migration committed on the target
  'migration-aborted', // a live migration failed; the VM keeps running on its source
  'fail', // something failed; the VM needs attention
  'recovered', // an agent found the VM's QEMU running after all
] as const;
export type SystemEvent = (typeof SYSTEM_EVENTS)[number];

export type VmEvent = ApiEvent | SystemEvent;

/** The transition table: state → event → next state. Absent = refused. */
const TABLE: Readonly<Record<VmState, Partial<Record<VmEvent, VmState>>>> = {
  pending: { schedule: 'scheduling', delete: 'deleting', fail: 'error' },
  scheduling: { placed: 'creating', delete: 'deleting', fail: 'error' },
  creating: { started: 'running', stop: 'stopping', delete: 'deleting', fail: 'error', reschedule: 'scheduling' },
  running: { stop: 'stopping', reboot: 'running', migrate: 'migrating', delete: 'deleting', fail: 'error', stopped: 'stopped', reschedule: 'scheduling' },
  stopping: { stopped: 'stopped', delete: 'deleting', fail: 'error', reschedule: 'stopped' },
  stopped: { start: 'creating', delete: 'deleting', reschedule: 'stopped' },
  migrating: { migrated: 'running', 'migration-aborted': 'running', fail: 'error', stopped: 'stopped' },
  deleting: {},
  error: { start: 'creating', stop: 'stopping', delete: 'deleting', recovered: 'running', reschedule: 'scheduling' },
};

/** What to tell the caller when an API event does not fit the state. */
const ADVICE: Readonly<Record<ApiEvent, string>> = {
  start: 'start works on stopped or failed VMs',
  stop: 'stop works on creating, running or failed VMs',
  delete: 'wait for the migration to finish, then delete',
  migrate: 'only running VMs migrate; start it first',
  reboot: 'only running VMs reboot',
};

/** The next state, or undefined when the event is not allowed in `state`. */
export function nextState(state: VmState, event: VmEvent): VmState | undefined {
  return TABLE[state][event];
}

/** The next state, or FailedPrecondition naming the state and what to do. */
export function transition(state: VmState, event: VmEvent, vmName = 'the VM'): VmState {
  const next = nextState(state, event);
  if (next !== undefined) return next;
  const advice = (API_EVENTS as readonly string[]).includes(event) ? `; ${ADVICE[event as ApiEvent]}` : '';
  throw new UltraError('FailedPrecondition', `cannot ${event} ${vmName}: it is ${state}${advice}`, { state, event });
}

/** Every event allowed in `state`. */
export function allowedEvents(state: VmState): VmEvent[] {
  return Object.keys(TABLE[state]) as VmEvent[];
}

/** States in which a QEMU process may exist for the VM on its node. */
export function mayHaveProcess(state: VmState): boolean {
  return state !== 'pending' && state !== 'scheduling';
}

/** States the controller acts on (the agents act on the rest). */
export function isControllerState(state: VmState): boolean {
  return state === 'pending' || state === 'scheduling' || state === 'deleting';
}

export function isVmState(value: unknown): value is VmState {
  return typeof value === 'string' && (VM_STATES as readonly string[]).includes(value);
}
