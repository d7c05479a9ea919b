// The example world with groups kept in directories: `oncall` and `platform-admins` in Entra ID (the
// Graph fake), `dbas` as a Slack user group (the Slack fake). Erin, Frank and Grace are in no
// `people:` entry; the directories alone make them known. The Slack group is there when asked for.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { createGraphDirectory } from '../../src/entra/graph-directory';
import { configFromDocument, type LoadedConfig } from '../../src/config/file';
import type { Actor, Platform } from '../../src/core/types';
import type { Clock } from '../../src/app/ports';
import { FakeGraph } from '../fakes/graph';
import { LOCAL_CONFIG } from './paths';

export const ONCALL = '0c0c0c0c-0000-4000-8000-00000000ca11';
export const ENGINEERS = '0e0e0e0e-0000-4000-8000-0000000000e9';
export const PLATFORM_ADMINS = '0a0a0a0a-0000-4000-8000-0000000000ad';
export const DBAS_HANDLE = 'dbas';

/** examples/local.yaml plus directory groups: engineers may request web VMs, on-call may approve them. */
export function directoryConfig(opts: { slack?: boolean } = {}): LoadedConfig {
  return configFromDocument(directoryDoc(opts), 'directory-test');
}

/** The same, as the YAML document a rule file would hold. */
export function directoryDoc(opts: { slack?: boolean } = {}): Record<string, any> {
  const doc = YAML.parse(readFileSync(LOCAL_CONFIG, 'utf8')) as Record<string, any>;
  doc.groups = { oncall: { entra: ONCALL }, engineers: { entra: ENGINEERS }, 'platform-admins': { entra: PLATFORM_ADMINS }, ...(opts.slack ? { dbas: { slack: `@${DBAS_HANDLE}` } } : {}) };
  doc.admins = ['group:admins', 'group:platform-admins'];
  const web = doc.rules.find((r: { name: string }) => r.name === 'web');
  web.requesters = ['group:dev', 'group:sre', 'group:engineers'];
  web.approvers = ['group:sre', 'group:oncall'];
  const sql = doc.rules.find((r: { name: string }) => r.name === 'sql');
  if (opts.slack) sql.approvers = ['group:sre', 'group:dbas'];
  return doc;
}

export interface DirectoryPeople {
  graph: FakeGraph;
  erin: Actor;
  frank: Actor;
  grace: Actor;
  /** Frank's object id, to take him out of on-call. */
  frankId: string;
}

/** Graph with Erin (engineers), Frank (on-call) and Grace (platform admins). */
export async function startDirectoryGraph(): Promise<DirectoryPeople> {
  const graph = await FakeGraph.start({ pageSize: 100 });
  const erin = graph.user('erin@example.com', 'Erin Entra');
  const frank = graph.user('frank@example.com', 'Frank Oncall');
  const grace = graph.user('grace@example.com', 'Grace Admin');
  graph.addGroup({ id: ENGINEERS, displayName: 'Engineers', members: [erin.id] });
  graph.addGroup({ id: ONCALL, displayName: 'On-call', members: [frank.id] });
  graph.addGroup({ id: PLATFORM_ADMINS, displayName: 'Platform admins', members: [grace.id] });
  const actor = (email: string, name: string, platform: Platform = 'console'): Actor => ({ platform, userId: email, email, name });
  return { graph, erin: actor('erin@example.com', 'Erin'), frank: actor('frank@example.com', 'Frank'), grace: actor('grace@example.com', 'Grace'), frankId: frank.id };
}

export function graphDirectory(graph: FakeGraph, clock: Clock) {
  return createGraphDirectory({ baseUrl: graph.url, credential: graph.credential, clock, timeoutMs: 2_000, sleep: async () => {} });
}
