// What every benchmark shares: the runner's fakes and simulator, where output goes, and the knobs.
import { join } from 'node:path';
import { systemClock } from '../../src/app/ports';
import { startAzureSim, type AzureSim } from '../../src/azure-sim/server';
import { loadConfigFile } from '../../src/config/file';
import { connectorMembers } from '../../test/clients/teams';
import { BenchConnector } from './fake-connector';
import { BenchSlackApi } from './fake-slack';
import { REPO } from './procs';

export const SIGNING_SECRET = 'bench-signing-secret';
export const BOT_TOKEN = 'xoxb-bench-token';
export const APPROVALS_CHANNEL = 'C0JITAPPROVALS';
/** The command of every latency benchmark, as a known user (Alice may request web-01 from 10/8). */
export const REQUEST_TEXT = 'ssh web-01 1h from 10.1.2.3 for b';

export interface BenchContext {
  quick: boolean;
  /** bench/out/<run>/: logs, data directories, profiles. */
  outDir: string;
  configPath: string;
  slack: BenchSlackApi;
  connector: BenchConnector;
  /** The Azure simulator in the runner (real clock, no added latency), shared by bot processes. */
  sim: AzureSim;
  /** Node flags for bot processes (`--cpu-prof` with --profile). */
  botNodeFlags: string[];
  log(line: string): void;
}

/** The environment every bot process gets: local mode, Slack on against the runner's fake. */
export function botEnv(ctx: BenchContext, dataDir: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    JITBOT_DATA_DIR: dataDir,
    JITBOT_CONFIG: ctx.configPath,
    JITBOT_AZURE_SIM_URL: ctx.sim.url,
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: ctx.slack.apiUrl,
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** The runner's side of every benchmark: the Azure simulator with examples/local.yaml's world, and the Slack and Bot Connector fakes. */
export async function startRunnerFakes(): Promise<{ configPath: string; sim: AzureSim; slack: BenchSlackApi; connector: BenchConnector; close(): Promise<void> }> {
  const configPath = join(REPO, 'examples', 'local.yaml');
  const world = loadConfigFile(configPath).world;
  if (!world) throw new Error(`${configPath} has no azure: section`);
  const sim = await startAzureSim({ world, clock: systemClock, port: 0 });
  const slack = await BenchSlackApi.start();
  const connector = await BenchConnector.start(connectorMembers());
  return { configPath, sim, slack, connector, close: async () => void (await Promise.all([slack.close(), connector.close(), sim.close()])) };
}
