// prismnet's tables in flaredb (strong namespace `prismnet`), and the compare-and-swap claims that
// make allocation safe under concurrency: an address, a MAC or a transit link is taken by creating
// its key at version 0, which exactly one of any number of racing writers wins.
import type { TSchema } from '@sinclair/typebox';
import { UltraError, isUltraError } from '../../runtime/errors.ts';
import { MetadataTable } from '../flaredb/client/metadata-table.ts';
import type { StrongKv } from '../flaredb/client/strong-kv.ts';
import { AllocationSchema, BindingIndexSchema, MacClaimSchema, PortSchema, RouterSchema, RuleSchema, SecurityGroupSchema, ServiceIpSchema, SubnetSchema, TransitClaimSchema, VpcSchema } from './core/model.ts';

export const PRISMNET_NAMESPACE = 'prismnet';

export class PrismnetStore {
  readonly kv: StrongKv;
  readonly vpcs;
  readonly subnets;
  readonly ports;
  readonly securityGroups;
  readonly rules;
  readonly routers;
  readonly serviceIps;
  readonly allocations;
  readonly macs;
  readonly bindings;
  readonly transit;

  constructor(kv: StrongKv) {
    this.kv = kv;
    const table = <S extends TSchema>(name: string, noun: string, schema: S) => new MetadataTable(kv, { namespace: PRISMNET_NAMESPACE, table: name, schema, noun });
    this.vpcs = table('vpcs', 'VPC', VpcSchema);
    this.subnets = table('subnets', 'subnet', SubnetSchema);
    this.ports = table('ports', 'port', PortSchema);
    this.securityGroups = table('security-groups', 'security group', SecurityGroupSchema);
    this.rules = table('rules', 'security group rule', RuleSchema);
    this.routers = table('routers', 'router', RouterSchema);
    this.serviceIps = table('service-ips', 'service IP', ServiceIpSchema);
    this.allocations = table('ipam', 'address allocation', AllocationSchema);
    this.macs = table('macs', 'MAC claim', MacClaimSchema);
    this.bindings = table('bindings', 'port binding', BindingIndexSchema);
    this.transit = table('transit', 'transit link', TransitClaimSchema);
  }

  /** Creates the namespace (idempotent); call once before use. */
  async ensureNamespace(): Promise<void> {
    await this.kv.ensureStrongNamespace(PRISMNET_NAMESPACE);
  }
}

/**
 * Claims the first candidate whose key can be created (compare-and-swap at version 0), moving on
 * past candidates someone else took meanwhile. Returns the candidate, or undefined when every one
 * was taken.
 */
export async function claimFirstFree<T>(candidates: Iterable<number>, claim: (candidate: number) => Promise<T>): Promise<number | undefined> {
  for (const candidate of candidates) {
    try {
      await claim(candidate);
      return candidate;
    } catch (error) {
      if (!isUltraError(error, 'AlreadyExists')) throw error;
    }
  }
  return undefined;
}

/** Deletes a record, treating "already gone" as done (cleanup paths must be idempotent). */
export async function deleteIfPresent(remove: () => Promise<void>): Promise<void> {
  try {
    await remove();
  } catch (error) {
    if (!isUltraError(error, 'NotFound')) throw error;
  }
}

export function notFound(noun: string, id: string): UltraError {
  return new UltraError('NotFound', `${noun} '${id}' not found in this project`);
}
