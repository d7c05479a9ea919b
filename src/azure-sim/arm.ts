// The parts of Azure Resource Manager every simulated route shares: resource ids, the CloudError
// envelope, api-versions and ISO 8601 durations.

export const JIT_API_VERSIONS = ['2020-01-01', '2015-06-01-preview'] as const;
export const JIT_POLICY_TYPE = 'Microsoft.Security/locations/jitNetworkAccessPolicies';
export const VM_TYPE = 'Microsoft.Compute/virtualMachines';

/** A failed ARM call: the status and the `{"error":{code,message}}` body Azure sends. */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ArmError';
  }

  body(): { error: { code: string; message: string; target: null; details: []; additionalInfo: [] } } {
    return { error: { code: this.code, message: this.message, target: null, details: [], additionalInfo: [] } };
  }
}

export function badRequest(message: string, code = 'BadRequest'): ArmError {
  return new ArmError(400, code, message);
}

export function vmId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/${VM_TYPE}/${name}`;
}

export function policyId(subscriptionId: string, resourceGroup: string, location: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Security/locations/${location}/jitNetworkAccessPolicies/${name}`;
}

export interface VmIdParts {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

/** `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}`, any casing. */
export function parseVmId(id: string): VmIdParts | null {
  const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)$/i.exec(id.trim());
  return m ? { subscriptionId: m[1], resourceGroup: m[2], name: m[3] } : null;
}

/** ARM compares names case-insensitively and regions without spaces (`West Europe` = `westeurope`). */
export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export function normalizeLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}

const ISO_DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

/**
 * `PT3H`, `PT90M`, `P1D`, `PT1H30M` → milliseconds; null when not an ISO 8601 day-time duration.
 * The simulator keeps its own parser rather than sharing the client's, so a parsing bug cannot hide
 * on both sides of the wire at once.
 */
export function parseIsoDurationMs(text: string): number | null {
  const t = text.trim();
  const m = ISO_DURATION.exec(t);
  // `P`, `PT` and `P1DT` match the pattern's optional parts but are not durations.
  if (!m || /T$/i.test(t)) return null;
  if (m[1] === undefined && m[2] === undefined && m[3] === undefined && m[4] === undefined) return null;
  const days = Number(m[1] ?? 0);
  const hours = Number(m[2] ?? 0);
  const minutes = Number(m[3] ?? 0);
  const seconds = Number(m[4] ?? 0);
  return Math.round((((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000);
}

/** A small deterministic PRNG (mulberry32): fault injection that a seed can replay. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A short stable hex tag from text (rule names must not change between two reads of the NSG). */
export function hexTag(text: string, length = 32): string {
  let out = '';
  let h = 2166136261;
  while (out.length < length) {
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 16777619) >>> 0;
    }
    h ^= out.length;
    h = Math.imul(h, 16777619) >>> 0;
    out += h.toString(16).padStart(8, '0');
  }
  return out.slice(0, length);
}
