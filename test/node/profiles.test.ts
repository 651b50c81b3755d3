import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MATRIX_COMPONENTS } from '../../runtime/node/component-registry.ts';
import { BARE_METAL_BOOTSTRAP, HA_CONTROL_PLANE, PROFILES, SINGLE_NODE_DEV, profileComponents } from '../../runtime/node/profiles.ts';
import { loadUpConfig } from '../../runtime/cli/up-command.ts';

describe('profiles', () => {
  it('mirror the component matrix: every profile component is a matrix component, required and optional disjoint', () => {
    for (const profile of PROFILES) {
      for (const c of [...profile.required, ...profile.optional, ...profile.bootstrapOnly]) expect(MATRIX_COMPONENTS).toContain(c);
      expect(profile.required.filter((c) => profile.optional.includes(c))).toEqual([]);
      for (const target of Object.values(profile.toggles)) expect(profile.optional).toContain(target);
    }
    expect(SINGLE_NODE_DEV.required).toEqual(['chainfire', 'flaredb', 'iam', 'plasmavmc', 'prismnet']);
    expect(HA_CONTROL_PLANE.bootstrapOnly).toEqual(['deployer']);
    expect(BARE_METAL_BOOTSTRAP.required).toContain('first-boot-automation');
  });

  it('adds optional components by name or toggle, in matrix order, without duplicates', () => {
    expect(profileComponents(SINGLE_NODE_DEV, [])).toEqual(['chainfire', 'flaredb', 'iam', 'plasmavmc', 'prismnet']);
    expect(profileComponents(SINGLE_NODE_DEV, ['enableFlashDNS', 'lightningstor', 'flashdns'])).toEqual(['chainfire', 'flaredb', 'iam', 'plasmavmc', 'prismnet', 'lightningstor', 'flashdns']);
    expect(profileComponents(HA_CONTROL_PLANE, [], { bootstrap: true })).toContain('deployer');
    expect(profileComponents(HA_CONTROL_PLANE, [])).not.toContain('deployer');
  });

  it('refuses unknown names and components the profile does not offer, naming them and what it offers', () => {
    expect(() => profileComponents(SINGLE_NODE_DEV, ['warpdrive'])).toThrow(/'warpdrive' is not a component or toggle.*can enable: lightningstor/);
    expect(() => profileComponents(SINGLE_NODE_DEV, ['deployer'])).toThrow(/deployer is not optional in the single-node-dev profile/);
  });
});

describe('up config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uc-upconfig-'));
  const write = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('accepts the documented fields and toggles', () => {
    expect(loadUpConfig(write('ok.json', '{"enable":["flashdns"],"enableFiberLB":true,"ports":{"iam-http":18083},"controlPort":7001}'))).toMatchObject({ enableFiberLB: true, controlPort: 7001 });
  });

  it('refuses corrupt or misspelled files with the reason', () => {
    expect(() => loadUpConfig(write('corrupt.json', '{"enable": ['))).toThrow(/not valid JSON.*nothing was started/);
    expect(() => loadUpConfig(write('typo.json', '{"enableFlashDns": true}'))).toThrow(/is invalid/);
    expect(() => loadUpConfig(write('type.json', '{"controlPort": "7000"}'))).toThrow(/controlPort/);
    expect(() => loadUpConfig(join(dir, 'missing.json'))).toThrow(/does not exist/);
  });
});
