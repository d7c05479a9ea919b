// The Teams app manifest checked against Microsoft's own schema for its `manifestVersion`, as
// published in @microsoft/app-manifest (the package the Microsoft 365 Agents Toolkit validates with).
// Those schemas are draft-04, hence ajv-draft-04; their `format: uri` needs ajv-formats. Ajv's strict
// mode stays off because Microsoft's schemas themselves break its style rules (additionalProperties
// without a type); that relaxes checks on the schema, never on the manifest.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv-draft-04';
import addFormats from 'ajv-formats';

export const TEAMS_SCHEMAS_DIR = path.join(path.dirname(require.resolve('@microsoft/app-manifest/package.json')), 'build', 'json-schemas', 'teams');

/** Released manifest versions with a schema in the package, oldest first (the dev preview left out). */
export function shippedManifestVersions(): string[] {
  return readdirSync(TEAMS_SCHEMAS_DIR)
    .map((d) => /^v(\d+)\.(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]) || Number(a[2]) - Number(b[2]))
    .map((m) => `${m[1]}.${m[2]}`);
}

export function teamsSchemaFile(manifestVersion: string): string {
  return path.join(TEAMS_SCHEMAS_DIR, `v${manifestVersion}`, 'MicrosoftTeams.schema.json');
}

const compiled = new Map<string, ReturnType<Ajv['compile']>>();

function validatorFor(manifestVersion: string): ReturnType<Ajv['compile']> | null {
  if (!shippedManifestVersions().includes(manifestVersion)) return null;
  let validate = compiled.get(manifestVersion);
  if (!validate) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    validate = ajv.compile(JSON.parse(readFileSync(teamsSchemaFile(manifestVersion), 'utf8')) as object);
    compiled.set(manifestVersion, validate);
  }
  return validate;
}

/** Every way the manifest breaks the official schema of its manifestVersion, one line each; empty when it conforms. */
export function teamsManifestProblems(manifest: unknown): string[] {
  const version = (manifest as { manifestVersion?: unknown } | null)?.manifestVersion;
  if (typeof version !== 'string') return ['/manifestVersion: missing'];
  const validate = validatorFor(version);
  if (!validate) return [`/manifestVersion: ${version} has no schema in @microsoft/app-manifest (it ships ${shippedManifestVersions().join(', ')})`];
  if (validate(manifest)) return [];
  return (validate.errors ?? []).map((e) => {
    const extra = e.keyword === 'additionalProperties' ? ` "${(e.params as { additionalProperty: string }).additionalProperty}"` : '';
    const allowed = e.keyword === 'enum' ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')})` : '';
    return `${e.instancePath || '/'}: ${e.message}${extra}${allowed}`;
  });
}
