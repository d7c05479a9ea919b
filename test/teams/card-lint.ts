// A server-side Adaptive Card linter over the `adaptivecards` renderer's own parser. Its `lib/` build
// cannot load in Node (extensionless ESM imports), but the UMD bundle in `dist/` parses without a DOM.
import * as path from 'node:path';

interface ValidationEvent {
  phase: number;
  event: number;
  message: string;
}
interface SerializationContextLike {
  readonly eventCount: number;
  getEventAt(i: number): ValidationEvent;
}
interface AdaptiveCardLike {
  parse(json: unknown, ctx?: SerializationContextLike): void;
  validateProperties(): { validationEvents: ValidationEvent[] };
  toJSON(ctx?: SerializationContextLike): unknown;
  getActionCount(): number;
  getAllActions?(): Array<{ getJsonTypeName(): string }>;
}
interface AdaptiveCardsModule {
  AdaptiveCard: new () => AdaptiveCardLike;
  SerializationContext: new (targetVersion?: unknown) => SerializationContextLike;
  Versions: Record<string, unknown> & { v1_5: unknown };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const AC = require(path.join(require.resolve('adaptivecards/package.json'), '..', 'dist', 'adaptivecards.js')) as AdaptiveCardsModule;

export { AC };

/** Properties the renderer accepts but does not write back (Teams-only or fallback), so a round trip drops them. */
const NOT_ROUND_TRIPPED = new Set(['fallback', 'msteams', '$schema']);

function keyPaths(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => keyPaths(v, `${prefix}[${i}]`, out));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    if (NOT_ROUND_TRIPPED.has(k)) continue;
    const p = `${prefix}.${k}`;
    out.set(p, v);
    keyPaths(v, p, out);
  }
}

/**
 * Every complaint the renderer has about a card, as card version 1.5: parse events (unknown types,
 * bad values, unsupported versions), validation events (duplicate ids, inputs without labels…), and
 * properties it silently dropped (a typo such as `wrapp` parses without a word otherwise). An empty
 * array may be dropped: `refresh.userIds: []` means "manual refresh only" to Teams, not "absent".
 */
export function lintCard(json: unknown): string[] {
  const card = new AC.AdaptiveCard();
  const ctx = new AC.SerializationContext(AC.Versions.v1_5);
  card.parse(json, ctx);
  const problems: string[] = [];
  for (let i = 0; i < ctx.eventCount; i++) problems.push(`parse: ${ctx.getEventAt(i).message}`);
  for (const e of card.validateProperties().validationEvents) problems.push(`validate: ${e.message}`);
  const before = new Map<string, unknown>();
  const after = new Map<string, unknown>();
  keyPaths(json, '', before);
  keyPaths(card.toJSON(new AC.SerializationContext(AC.Versions.v1_5)), '', after);
  for (const [p, v] of before) if (!after.has(p) && !(Array.isArray(v) && v.length === 0)) problems.push(`dropped: ${p}`);
  return problems;
}
