// The `etcd3` npm client (microsoft/etcd3, its own grpc-js and proto copy) against a real
// single-voter chainfire with a cluster credential: put/get, prefix ranges, txn, leases kept alive
// and revoked, and watches.
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdTestServer, sleep, waitFor } from './etcdctl-harness.ts';

describe('chainfire with the etcd3 npm client', () => {
  const t = new EtcdTestServer({ credential: { user: 'root', password: 'pa55' } });
  let client: Etcd3;

  beforeAll(async () => {
    await t.start();
    client = new Etcd3({ hosts: `http://127.0.0.1:${t.port}`, auth: { username: 'root', password: 'pa55' } });
  });
  afterAll(async () => {
    client.close();
    await t.stop();
  });

  it('puts, gets and ranges', async () => {
    await client.put('app/a').value('1');
    await client.put('app/b').value('2');
    await client.put('other').value('x');
    expect(await client.get('app/a').string()).toBe('1');
    expect(await client.get('missing').string()).toBeNull();
    expect(await client.getAll().prefix('app/').strings()).toEqual({ 'app/a': '1', 'app/b': '2' });
    expect(await client.getAll().prefix('app/').count()).toBe(2);
    expect(await client.getAll().prefix('app/').sort('Key', 'Descend').limit(1).keys()).toEqual(['app/b']);
    const { kvs } = await client.get('app/b').exec();
    expect([kvs[0]!.version, kvs[0]!.create_revision === kvs[0]!.mod_revision]).toEqual(['1', true]);
    expect(await client.delete().prefix('app/')).toMatchObject({ deleted: '2' });
    expect(await client.getAll().prefix('app/').keys()).toEqual([]);
  });

  it('runs transactions on both branches', async () => {
    await client.put('cas').value('v1');
    const hit = await client.if('cas', 'Value', '==', 'v1').then(client.put('cas').value('v2')).else(client.put('cas-miss').value('1')).commit();
    expect(hit.succeeded).toBe(true);
    const miss = await client.if('cas', 'Value', '==', 'v1').then(client.put('cas').value('v3')).else(client.get('cas')).commit();
    expect(miss.succeeded).toBe(false);
    expect(miss.responses[0]!.response_range!.kvs[0]!.value.toString()).toBe('v2');
    expect(await client.get('cas').string()).toBe('v2');
  });

  it('keeps a lease alive past its TTL, then revokes it with its keys', async () => {
    const lease = client.lease(2);
    const lost: unknown[] = [];
    lease.on('lost', (error) => lost.push(error));
    await lease.put('leased/k').value('L');
    const id = await lease.grant();
    const before = await client.get('leased/k').exec();
    expect(before.kvs[0]!.lease).toBe(BigInt(`0x${id}`).toString());
    // etcd3 renews at a third of the TTL; without that the lease would expire after 2 s.
    await sleep(3500);
    expect(await client.get('leased/k').string()).toBe('L');
    expect(lost).toEqual([]);
    await lease.revoke();
    expect(await client.get('leased/k').string()).toBeNull();
  });

  it('delivers watch events in revision order', async () => {
    const watcher = await client.watch().prefix('w/').withPreviousKV().create();
    const seen: string[] = [];
    watcher.on('put', (kv, previous) => seen.push(`PUT ${kv.key.toString()}=${kv.value.toString()}@${kv.mod_revision}${previous ? ` prev=${previous.value.toString()}` : ''}`));
    watcher.on('delete', (kv, previous) => seen.push(`DELETE ${kv.key.toString()}@${kv.mod_revision} prev=${previous?.value.toString()}`));
    const revs: string[] = [];
    for (const [key, value] of [['w/1', 'a'], ['w/2', 'b'], ['w/1', 'c']] as const) revs.push((await client.put(key).value(value).exec()).header.revision);
    revs.push((await client.delete().key('w/2').exec()).header.revision);
    await waitFor(() => seen.length === 4);
    expect(seen).toEqual([`PUT w/1=a@${revs[0]}`, `PUT w/2=b@${revs[1]}`, `PUT w/1=c@${revs[2]} prev=a`, `DELETE w/2@${revs[3]} prev=b`]);
    await watcher.cancel();
    await waitFor(() => t.chainfire.replica.watcherCount === 0);
  });
});
