// The local console drives the bot as anyone in the config and moves its clock, with no login: it is
// safe only because it listens on this machine. A web page elsewhere can still reach it by DNS
// rebinding (its own name, re-pointed at 127.0.0.1), or post to it from another origin. Both carry a
// Host or Origin that is not one of the console's own addresses, so those requests are refused
// before any route runs.
import { isIP } from 'node:net';
import type { Request, Response, Next } from 'restify';

const GUARDED = /^\/(?:$|console(?:\/|$)|_local(?:\/|$))/;
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARDS = new Set(['0.0.0.0', '::', '']);

function bracketed(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}

/** Names the console may be reached by on this connection: loopback, the address it arrived on, and any configured. */
function allowedNames(req: Request, extra: readonly string[]): Set<string> {
  const names = new Set([...LOOPBACK_NAMES, ...extra.map((h) => h.toLowerCase())]);
  const local = req.socket?.localAddress?.replace(/^::ffff:/, '') ?? '';
  if (!WILDCARDS.has(local)) names.add(bracketed(local).toLowerCase());
  return names;
}

/** True when `host` (`name:port` as in a Host header) is one of ours on the port this connection reached. */
export function isOwnHost(host: string, req: Request, extra: readonly string[] = []): boolean {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(host.trim());
  if (!m) return false;
  const port = m[2] === undefined ? 80 : Number(m[2]);
  return allowedNames(req, extra).has(m[1].toLowerCase()) && port === req.socket?.localPort;
}

/**
 * A restify `pre` handler for local mode. `extraHosts`: further host names the console is served on
 * (say the host of JITBOT_PUBLIC_URL), without port.
 */
export function localOriginGuard(opts: { extraHosts?: string[] } = {}) {
  const extra = opts.extraHosts ?? [];
  return (req: Request, res: Response, next: Next): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (!GUARDED.test(path)) return next();
    const host = req.headers.host ?? '';
    const origin = req.headers.origin;
    let problem: string | null = null;
    if (!isOwnHost(host, req, extra)) problem = `Host ${JSON.stringify(host)} is not this console's address`;
    else if (origin !== undefined) {
      let originHost: string | null = null;
      try {
        const u = new URL(origin);
        if (u.protocol === 'http:' || u.protocol === 'https:') originHost = u.port ? `${u.hostname}:${u.port}` : `${u.hostname}:${u.protocol === 'https:' ? 443 : 80}`;
      } catch {
        originHost = null;
      }
      if (originHost === null || !isOwnHost(originHost, req, extra)) problem = `Origin ${JSON.stringify(origin)} is not this console`;
    }
    if (problem) {
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.writeHead(403);
      res.end(JSON.stringify({ error: `${problem}; open it at http://127.0.0.1:${req.socket?.localPort ?? ''}/ on this machine` }));
      return next(false);
    }
    return next();
  };
}
