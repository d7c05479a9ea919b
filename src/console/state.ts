// The side panel's picture of Azure, read from the simulator over HTTP as an operator would look at
// the portal: each VM, its JIT policy (from the ARM policy list) and which ports its network security
// group lets in right now (from the simulator's NSG inspection route). It shows Azure's truth, not
// the bot's belief, so a newcomer can see that approving really opened the port and expiry closed it.

/** Where the simulator listens; the subscription id unlocks the ARM lists (policies, VM details). */
export interface SimEndpoint {
  url: string;
  subscriptionId?: string;
}

export interface PanelPortRule {
  port: number;
  protocol: string;
  /** `*` or prefixes; empty when only the NSG was readable. */
  sources: string[];
  /** `3h`, `1h30m`; empty when only the NSG was readable. */
  max: string;
}

export interface PanelOpenPort {
  port: number;
  protocol: string;
  source: string;
  /** ISO time the allow rule goes away. */
  until: string;
}

export interface PanelVm {
  name: string;
  resourceGroup?: string;
  location?: string;
  os?: 'linux' | 'windows';
  /** null: not under JIT. */
  jit: PanelPortRule[] | null;
  open: PanelOpenPort[];
  /** Set when this VM could not be read. */
  error?: string;
}

export interface ConsoleState {
  now: string;
  /** False without a simulator (real Azure): the panel then lists VM names only. */
  simulated: boolean;
  /** One line for the panel when something limits what it can show. */
  note?: string;
  vms: PanelVm[];
}

const JIT_API_VERSION = '2020-01-01';
const COMPUTE_API_VERSION = '2024-07-01';
const TIMEOUT_MS = 3000;
/** A simulator never pages this far; the cap stops a looping nextLink. */
const MAX_PAGES = 20;

interface WireNsgRule {
  access?: string;
  protocol?: string;
  sourceAddressPrefix?: string;
  sourceAddressPrefixes?: string[];
  destinationPortRange?: string;
  description?: string;
  expiresAt?: string;
}

interface WirePolicy {
  properties?: {
    virtualMachines?: Array<{
      id?: string;
      ports?: Array<{
        number?: number;
        protocol?: string;
        allowedSourceAddressPrefix?: string;
        allowedSourceAddressPrefixes?: string[];
        maxRequestAccessDuration?: string;
      }>;
    }>;
  };
}

interface WireVm {
  id?: string;
  name?: string;
  location?: string;
  properties?: { storageProfile?: { osDisk?: { osType?: string } } };
}

export interface StateReaderOptions {
  sim?: SimEndpoint;
  vmNames: () => Promise<string[]> | string[];
  now: () => Date;
}

export function createStateReader(opts: StateReaderOptions): () => Promise<ConsoleState> {
  return async () => {
    const now = opts.now().toISOString();
    const names = [...(await opts.vmNames())];
    const sim = opts.sim;
    if (!sim) {
      return {
        now,
        simulated: false,
        note: 'Real Azure: open ports are not shown here.',
        vms: names.map((name) => ({ name, jit: null, open: [] })),
      };
    }

    let details: { vms: Map<string, WireVm>; rules: Map<string, PanelPortRule[]> } | null = null;
    let note: string | undefined;
    if (sim.subscriptionId) {
      try {
        details = await readArm(sim as Required<SimEndpoint>);
      } catch (err) {
        note = `Could not read the JIT policies: ${(err as Error).message}`;
      }
    } else {
      note = 'Allowed sources and maximum durations are not shown: the console was not given the simulated subscription id.';
    }

    const allNames = new Set(names.map((n) => n.toLowerCase()));
    for (const vm of details?.vms.values() ?? []) {
      if (vm.name && !allNames.has(vm.name.toLowerCase())) {
        names.push(vm.name);
        allNames.add(vm.name.toLowerCase());
      }
    }
    names.sort((a, b) => a.localeCompare(b));

    const vms = await Promise.all(
      names.map(async (name): Promise<PanelVm> => {
        const wire = details?.vms.get(name.toLowerCase());
        const base: PanelVm = { name, jit: null, open: [], ...vmFacts(wire) };
        try {
          const nsg = await getJson<{ rules?: WireNsgRule[] }>(`${sim.url}/_sim/nsg/${encodeURIComponent(name)}`);
          const rules = nsg.rules ?? [];
          const fromPolicy = details && wire?.id ? (details.rules.get(wire.id.toLowerCase()) ?? null) : null;
          return { ...base, jit: details ? fromPolicy : jitFromNsg(rules), open: openFromNsg(rules) };
        } catch (err) {
          return { ...base, error: `Could not read the network rules: ${(err as Error).message}` };
        }
      }),
    );
    return { now, simulated: true, ...(note ? { note } : {}), vms };
  };
}

async function readArm(sim: Required<SimEndpoint>): Promise<{ vms: Map<string, WireVm>; rules: Map<string, PanelPortRule[]> }> {
  const base = `${sim.url}/subscriptions/${encodeURIComponent(sim.subscriptionId)}/providers`;
  const [vmList, policies] = await Promise.all([
    listAll<WireVm>(`${base}/Microsoft.Compute/virtualMachines?api-version=${COMPUTE_API_VERSION}`),
    listAll<WirePolicy>(`${base}/Microsoft.Security/jitNetworkAccessPolicies?api-version=${JIT_API_VERSION}`),
  ]);
  const vms = new Map<string, WireVm>();
  for (const vm of vmList) if (vm.name) vms.set(vm.name.toLowerCase(), vm);
  const rules = new Map<string, PanelPortRule[]>();
  for (const policy of policies) {
    for (const vm of policy.properties?.virtualMachines ?? []) {
      if (!vm.id) continue;
      const list = rules.get(vm.id.toLowerCase()) ?? [];
      for (const p of vm.ports ?? []) {
        if (typeof p.number !== 'number') continue;
        list.push({
          port: p.number,
          protocol: p.protocol ?? '*',
          sources: p.allowedSourceAddressPrefixes ?? (p.allowedSourceAddressPrefix ? [p.allowedSourceAddressPrefix] : ['*']),
          max: p.maxRequestAccessDuration ? shortDuration(p.maxRequestAccessDuration) : '',
        });
      }
      rules.set(vm.id.toLowerCase(), list.sort((a, b) => a.port - b.port));
    }
  }
  return { vms, rules };
}

function vmFacts(vm: WireVm | undefined): Pick<PanelVm, 'resourceGroup' | 'location' | 'os'> {
  if (!vm) return {};
  const rg = /\/resourceGroups\/([^/]+)\//i.exec(vm.id ?? '')?.[1];
  const osType = vm.properties?.storageProfile?.osDisk?.osType?.toLowerCase();
  return {
    ...(rg ? { resourceGroup: rg } : {}),
    ...(vm.location ? { location: vm.location } : {}),
    ...(osType === 'windows' || osType === 'linux' ? { os: osType } : {}),
  };
}

/** Without the policy list, JIT's deny rules still say which ports the policy covers. */
function jitFromNsg(rules: WireNsgRule[]): PanelPortRule[] | null {
  const ports = rules
    .filter((r) => r.access === 'Deny' && r.destinationPortRange !== '*' && /^ASC JIT/.test(r.description ?? ''))
    .map((r) => Number(r.destinationPortRange))
    .filter((n) => Number.isInteger(n));
  if (ports.length === 0) return null;
  return [...new Set(ports)].sort((a, b) => a - b).map((port) => ({ port, protocol: '*', sources: [], max: '' }));
}

/** JIT's allow rules are the open ports: each names its source and when JIT takes it away. */
function openFromNsg(rules: WireNsgRule[]): PanelOpenPort[] {
  return rules
    .filter((r) => r.access === 'Allow' && r.expiresAt && r.destinationPortRange !== '*')
    .map((r) => ({
      port: Number(r.destinationPortRange),
      protocol: r.protocol ?? '*',
      source: r.sourceAddressPrefixes?.length ? r.sourceAddressPrefixes.join(', ') : (r.sourceAddressPrefix ?? '*'),
      until: r.expiresAt as string,
    }))
    .sort((a, b) => a.port - b.port || a.until.localeCompare(b.until));
}

/** `PT3H` → `3h`, `PT1H30M` → `1h30m`; anything else as Azure wrote it. */
export function shortDuration(iso: string): string {
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?$/i.exec(iso);
  if (!m || (m[1] === undefined && m[2] === undefined)) return iso;
  return `${m[1] ? `${Number(m[1])}h` : ''}${m[2] && Number(m[2]) > 0 ? `${Number(m[2])}m` : ''}` || '0m';
}

async function listAll<T>(firstUrl: string): Promise<T[]> {
  const out: T[] = [];
  let url: string | undefined = firstUrl;
  for (let page = 0; url && page < MAX_PAGES; page++) {
    const body: { value?: T[]; nextLink?: string } = await getJson(url);
    out.push(...(body.value ?? []));
    url = body.nextLink;
  }
  return out;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, {
    // The simulator wants a bearer token, as ARM does, and accepts any.
    headers: { accept: 'application/json', authorization: 'Bearer jitbot-console' },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // Not JSON: the status says enough.
    }
    throw new Error(message);
  }
  return JSON.parse(text) as T;
}
