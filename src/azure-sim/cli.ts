// `jitbot-azure-sim`: the simulator on its own, seeded from a world file, for poking at it with curl,
// az rest or a bot started elsewhere with AZURE_RESOURCE_MANAGER_URL-style redirection.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { AdjustableClock } from '../app/clock';
import { isJitError } from '../core/errors';
import { startAzureSim, type AzureSim } from './server';
import { worldFromYaml } from './world-yaml';

export const DEFAULT_SIM_PORT = 3979;

export interface CliEnv {
  JITBOT_CONFIG?: string;
  JITBOT_SIM_PORT?: string;
  JITBOT_SIM_APPLY_DELAY_MS?: string;
}

/** Local mode's default: long enough to see "Opening…", short enough not to wait for. */
export const DEFAULT_APPLY_DELAY_MS = 3_000;

function readDelay(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return DEFAULT_APPLY_DELAY_MS;
  const ms = Number(text);
  if (!/^\d+$/.test(text.trim()) || ms > 600_000) throw new Error(`JITBOT_SIM_APPLY_DELAY_MS: "${text}" is not a whole number of milliseconds from 0 to 600000`);
  return ms;
}

/** examples/local.yaml of this package, found from here whether we run from src/ or dist/src/. */
function defaultWorldFile(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'examples', 'local.yaml');
    if (fs.existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return path.resolve('examples', 'local.yaml');
}

function readPort(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return DEFAULT_SIM_PORT;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`JITBOT_SIM_PORT: "${text}" is not a port (0-65535; 0 picks a free one)`);
  }
  return port;
}

/** Starts the simulator as the environment says; the caller owns closing it. */
export async function startFromEnv(env: CliEnv): Promise<{ sim: AzureSim; worldFile: string }> {
  const worldFile = env.JITBOT_CONFIG ? path.resolve(env.JITBOT_CONFIG) : defaultWorldFile();
  let text: string;
  try {
    text = fs.readFileSync(worldFile, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the world file ${worldFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new Error(`${worldFile}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  let world;
  try {
    world = worldFromYaml(doc);
  } catch (err) {
    throw new Error(`${worldFile}: ${isJitError(err) ? err.message : String(err)}`);
  }
  const sim = await startAzureSim({
    world,
    clock: new AdjustableClock(),
    port: readPort(env.JITBOT_SIM_PORT),
    host: '127.0.0.1',
    applyDelayMs: readDelay(env.JITBOT_SIM_APPLY_DELAY_MS),
  });
  return { sim, worldFile };
}

export const USAGE = `Usage: jitbot-azure-sim [--help]

Runs jitbot's Azure JIT simulator on its own: a loopback Azure Resource Manager that answers the
JIT network access policy and virtual machine calls the bot makes, with a simulated NSG.

Environment:
  JITBOT_CONFIG    world file with an azure: section (default: examples/local.yaml of this package)
  JITBOT_SIM_PORT  port on 127.0.0.1 (default ${DEFAULT_SIM_PORT}; 0 picks a free one)

Stop it with Ctrl-C (SIGINT) or SIGTERM.
`;

export async function main(env: CliEnv = process.env, args: readonly string[] = process.argv.slice(2)): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  if (args.length > 0) {
    process.stderr.write(`jitbot-azure-sim: unknown argument "${args[0]}" (--help shows the usage)\n`);
    process.exitCode = 2;
    return;
  }
  let started: { sim: AzureSim; worldFile: string };
  try {
    started = await startFromEnv(env);
  } catch (err) {
    process.stderr.write(`jitbot-azure-sim: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  const { sim, worldFile } = started;
  process.stdout.write(`jitbot azure simulator listening on ${sim.url} (world: ${worldFile})\n`);
  for (const g of sim.guards()) process.stdout.write(`  guard ${g.vmName}:${g.port} -> 127.0.0.1:${g.listenPort}\n`);
  const stop = () => {
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) void main();
