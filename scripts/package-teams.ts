// `npm run package:teams`: the Teams app package to upload (Teams admin center or "Upload a custom
// app"): a flat zip with manifest.json, color.png and outline.png at its root.
//
// manifest/teams/manifest.json keeps placeholders, filled here from the environment:
//   TEAMS_APP_ID  the app's GUID in Teams (default: the bot's app id, as Teams Toolkit does)
//   BOT_ID        the bot's Entra app id (default: MicrosoftAppId)
//   BOT_DOMAIN    the public host of /api/messages, e.g. jitbot.example.com
//   TEAMS_APP_VERSION  optional; every upload of a changed package needs a higher semver
// The filled manifest is checked against Microsoft's schema for its manifestVersion (from
// @microsoft/app-manifest) before anything is written.
// Options: --out <file> (default dist/jitbot-teams.zip).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { readPngHeader } from './lib/png';
import { teamsManifestProblems } from './lib/teams-schema';
import { writeZip } from './lib/zip';

export const TEAMS_DIR = path.resolve(__dirname, '..', 'manifest', 'teams');
export const PLACEHOLDERS = ['TEAMS_APP_ID', 'BOT_ID', 'BOT_DOMAIN'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

const ICONS = { 'color.png': 192, 'outline.png': 32 } as const;

export function placeholdersIn(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{\{([A-Z0-9_]+)\}\}/g)].map((m) => m[1]))].sort();
}

/** The manifest with its placeholders filled; throws naming every one left without a value. */
export function fillManifest(template: string, values: Partial<Record<Placeholder, string>>, version?: string): Record<string, unknown> {
  const missing = placeholdersIn(template).filter((p) => !values[p as Placeholder]);
  if (missing.length) throw new Error(`set ${missing.join(', ')} (see scripts/package-teams.ts)`);
  const filled = template.replace(/\$\{\{([A-Z0-9_]+)\}\}/g, (_m, name: Placeholder) => {
    const v = values[name]!;
    // Values land inside JSON strings; quoting them keeps a stray quote from breaking out.
    return JSON.stringify(v).slice(1, -1);
  });
  const manifest = JSON.parse(filled) as Record<string, unknown>;
  if (version) manifest.version = version;
  return manifest;
}

export function valuesFromEnv(env: NodeJS.ProcessEnv): Partial<Record<Placeholder, string>> {
  const botId = env.BOT_ID || env.MicrosoftAppId || '';
  return { TEAMS_APP_ID: env.TEAMS_APP_ID || botId, BOT_ID: botId, BOT_DOMAIN: (env.BOT_DOMAIN || '').replace(/^https?:\/\//, '').replace(/\/.*$/, '') };
}

/** Teams refuses an upload whose version is not MAJOR.MINOR.PATCH; the schema only says so in prose. */
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export function checkManifest(manifest: unknown): string[] {
  const problems = teamsManifestProblems(manifest);
  const version = (manifest as { version?: unknown } | null)?.version;
  if (typeof version === 'string' && !SEMVER.test(version)) problems.push(`/version: ${JSON.stringify(version)} is not MAJOR.MINOR.PATCH`);
  return problems;
}

export interface BuildPackageOptions {
  /** Replaces the manifest's own version (TEAMS_APP_VERSION). */
  version?: string;
  /** The manifest template's text; manifest/teams/manifest.json when absent. */
  template?: string;
}

export function buildPackage(values: Partial<Record<Placeholder, string>>, opts: BuildPackageOptions = {}): Buffer {
  const template = opts.template ?? readFileSync(path.join(TEAMS_DIR, 'manifest.json'), 'utf8');
  const manifest = fillManifest(template, values, opts.version);
  const problems = checkManifest(manifest);
  if (problems.length) throw new Error(`manifest.json does not conform:\n  ${problems.join('\n  ')}`);
  const entries = [{ name: 'manifest.json', data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8') }];
  for (const [name, size] of Object.entries(ICONS)) {
    const data = readFileSync(path.join(TEAMS_DIR, name));
    const h = readPngHeader(data);
    if (h.width !== size || h.height !== size) throw new Error(`${name} is ${h.width}×${h.height}, Teams wants ${size}×${size}`);
    entries.push({ name, data });
  }
  return writeZip(entries);
}

function main(argv: string[]): void {
  const outAt = argv.indexOf('--out');
  const out = path.resolve(outAt >= 0 && argv[outAt + 1] ? argv[outAt + 1] : path.join(__dirname, '..', 'dist', 'jitbot-teams.zip'));
  const version = process.env.TEAMS_APP_VERSION;
  const zip = buildPackage(valuesFromEnv(process.env), version ? { version } : {});
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, zip);
  process.stdout.write(`wrote ${out} (${zip.length} bytes)\n`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`package:teams: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
