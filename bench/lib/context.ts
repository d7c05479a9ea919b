// What every benchmark shares: the runner's fakes and simulator, where output goes, and the knobs.
import type { AzureSim } from '../../src/azure-sim/server';
import type { BenchConnector } from './fake-connector';
import type { BenchSlackApi } from './fake-slack';

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
