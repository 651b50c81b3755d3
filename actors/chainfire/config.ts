// chainfire's settings in the node config (`settings.chainfire` in node.json), validated at start.
// Everything has a default: with no settings, no auto compaction (as etcd).
import { Type } from '@sinclair/typebox';
import { settingsParser } from '../../runtime/node/component-settings.ts';
import { parseAutoCompaction, type AutoCompaction } from './core/auto-compaction.ts';

export const ChainfireSettingsSchema = Type.Object(
  {
    /** etcd's --auto-compaction-mode: periodic (default) or revision. */
    autoCompactionMode: Type.Optional(Type.Union([Type.Literal('periodic'), Type.Literal('revision')])),
    /** etcd's --auto-compaction-retention: "0" (off, default); periodic "1h", "30m", or hours; revision a count. */
    autoCompactionRetention: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Integer({ minimum: 0 })])),
  },
  { additionalProperties: false },
);

export interface ChainfireConfig {
  readonly autoCompaction: AutoCompaction | undefined;
}

const checkSettings = settingsParser('chainfire', ChainfireSettingsSchema);

export function parseChainfireSettings(value: unknown): ChainfireConfig {
  const s = checkSettings(value);
  return { autoCompaction: parseAutoCompaction(s.autoCompactionMode, s.autoCompactionRetention) };
}
