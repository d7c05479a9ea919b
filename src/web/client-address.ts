// The address a browser came from. X-Forwarded-For is anyone's to write, so it counts only when the
// socket's peer is a proxy the operator listed (JITBOT_TRUSTED_PROXIES), and then only back to the
// first hop that is not itself a trusted proxy: a client cannot prepend its way past the proxies.
import { singleAddress, sourceAllowed } from '../core/cidr';

const MAX_HOPS = 32;

/** The client's address as a single-address source, or null when it cannot be read. */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, trustedProxies: readonly string[]): string | null {
  const peer = socketAddress ? singleAddress(socketAddress) : null;
  if (peer === null) return null;
  if (trustedProxies.length === 0 || !sourceAllowed(peer, trustedProxies)) return peer;
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '');
  const hops = header.split(',').map((h) => h.trim()).filter(Boolean).slice(-MAX_HOPS);
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = singleAddress(hops[i]);
    // A hop we cannot read was written by someone we do not trust to write it: stop at the last good one.
    if (hop === null) return client;
    client = hop;
    if (!sourceAllowed(hop, trustedProxies)) return hop;
  }
  return client;
}
