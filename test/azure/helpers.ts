// Shared pieces for the Azure tests: the local world, raw ARM calls, a scripted ARM for answers the
// simulator never gives (403, partial 202s), and the published REST vectors.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parse } from 'yaml';
import type { Clock } from '../../src/app/ports';
import { createAzureCloud, type AzureCloudOptions } from '../../src/azure';
import type { AzureSim } from '../../src/azure-sim/server';
import { worldFromYaml } from '../../src/azure-sim/world-yaml';
import type { SimWorld } from '../../src/azure-sim/world';
import { LOCAL_CONFIG, VECTORS } from '../helpers/paths';

export const VECTORS_DIR = path.join(VECTORS, 'azure-jit');
export const HOUR = 3_600_000;
export const MINUTE = 60_000;

export function localWorld(patch: Partial<SimWorld> = {}): SimWorld {
  return { ...worldFromYaml(parse(fs.readFileSync(LOCAL_CONFIG, 'utf8'))), ...patch };
}

export const SUB = '00000000-0000-0000-0000-000000000000';

export function policyPath(resourceGroup: string, name = 'default', location = 'westeurope', sub = SUB): string {
  return `/subscriptions/${sub}/resourceGroups/${resourceGroup}/providers/Microsoft.Security/locations/${location}/jitNetworkAccessPolicies/${name}`;
}

export function vmResourceId(resourceGroup: string, name: string, sub = SUB): string {
  return `/subscriptions/${sub}/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/virtualMachines/${name}`;
}

export interface ArmAnswer {
  status: number;
  headers: Headers;
  body: any;
}

/** One raw ARM call with a bearer token, as `az rest` would make it. */
export async function arm(base: string, method: string, pathAndQuery: string, body?: unknown, headers: Record<string, string> = {}): Promise<ArmAnswer> {
  const res = await fetch(`${base}${pathAndQuery}`, {
    method,
    headers: { authorization: 'Bearer test-token', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** The real client against a loopback server, with retries short enough for tests. */
export function testCloud(target: { url: string }, clock: Clock, extra: Partial<AzureCloudOptions> = {}) {
  return createAzureCloud({
    subscriptionId: SUB,
    redirectTo: target.url,
    clock,
    timeoutInMs: 3_000,
    retry: { maxRetries: 2, retryDelayInMs: 5, maxRetryDelayInMs: 20 },
    ...extra,
  });
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export interface ScriptedReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A loopback ARM whose every answer the test writes; it records what the client sent. */
export async function startScriptedArm(answer: (req: RecordedRequest) => ScriptedReply): Promise<{ url: string; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const recorded: RecordedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body: text === '' ? undefined : JSON.parse(text) };
      requests.push(recorded);
      const reply = answer(recorded);
      const out = reply.body === undefined ? '' : JSON.stringify(reply.body);
      res.writeHead(reply.status, { ...(out ? { 'content-type': 'application/json; charset=utf-8' } : {}), ...reply.headers });
      res.end(out);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface Vector {
  file: string;
  parameters: Record<string, any>;
  responses: Record<string, { body?: any }>;
}

export function loadVectors(): Vector[] {
  return fs
    .readdirSync(VECTORS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, ...(JSON.parse(fs.readFileSync(path.join(VECTORS_DIR, file), 'utf8')) as Omit<Vector, 'file'>) }));
}

export function vector(name: string): Vector {
  const found = loadVectors().find((v) => v.file === `${name}_example.json`);
  if (!found) throw new Error(`no vector ${name} in ${VECTORS_DIR}`);
  return found;
}

/**
 * Every JSON path of `expected` with its JSON type (`properties.virtualMachines[].ports[].number:
 * number`); arrays contribute their elements' paths. Compared as sets, two bodies have the same
 * shape when the actual one has every path the example has.
 */
export function shapePaths(value: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    out.add(`${prefix}: array`);
    for (const item of value) shapePaths(item, `${prefix}[]`, out);
  } else if (value !== null && typeof value === 'object') {
    if (prefix !== '') out.add(`${prefix}: object`);
    for (const [k, v] of Object.entries(value)) shapePaths(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else {
    out.add(`${prefix}: ${value === null ? 'null' : typeof value}`);
  }
  return out;
}

export function missingPaths(actual: unknown, expected: unknown): string[] {
  const have = shapePaths(actual);
  return [...shapePaths(expected)].filter((p) => !have.has(p));
}

export async function stopAll(...things: Array<{ close(): Promise<void> } | undefined>): Promise<void> {
  await Promise.all(things.map((t) => t?.close()));
}

export type { AzureSim };
