// Short-lived signed links to the audit CSV, for Teams and the console, which cannot take a file
// upload from the bot. The link carries its own expiry and an HMAC; nothing is stored, so any
// replica sharing JITBOT_LINK_SECRET can serve it.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type * as restify from 'restify';
import type { Clock } from '../app/ports';

const VALID_MS = 10 * 60_000;

export interface AuditQuery {
  vm?: string;
  days: number;
  email: string;
}

export function createAuditLinks(opts: { secret?: string; clock: Clock; baseUrl: () => string }) {
  const key = opts.secret ? Buffer.from(opts.secret, 'utf8') : randomBytes(32);
  const mac = (payload: string) => createHmac('sha256', key).update(payload).digest('base64url');
  const payloadOf = (q: { vm: string; days: string; by: string; exp: string }) => `${q.vm}\n${q.days}\n${q.by}\n${q.exp}`;

  return {
    sign(q: AuditQuery): string {
      const exp = String(opts.clock.now().getTime() + VALID_MS);
      const fields = { vm: q.vm ?? '', days: String(q.days), by: q.email, exp };
      const params = new URLSearchParams({ ...fields, sig: mac(payloadOf(fields)) });
      return `${opts.baseUrl()}/audit.csv?${params.toString()}`;
    },
    mount(csvFor: (q: { vm?: string; days: number }) => Promise<{ csv: string; filename: string }>) {
      return (server: restify.Server) => {
        server.get('/audit.csv', async (req: restify.Request, res: restify.Response) => {
          const url = new URL(req.url ?? '/', 'http://local');
          const fields = {
            vm: url.searchParams.get('vm') ?? '',
            days: url.searchParams.get('days') ?? '',
            by: url.searchParams.get('by') ?? '',
            exp: url.searchParams.get('exp') ?? '',
          };
          const given = Buffer.from(url.searchParams.get('sig') ?? '', 'utf8');
          const expected = Buffer.from(mac(payloadOf(fields)), 'utf8');
          const valid = given.length === expected.length && timingSafeEqual(given, expected);
          if (!valid || !/^\d+$/.test(fields.days) || Number(fields.exp) < opts.clock.now().getTime()) {
            res.json(403, { error: 'This audit link is invalid or has expired; run /jit audit again.' });
            return;
          }
          const { csv, filename } = await csvFor({ ...(fields.vm ? { vm: fields.vm } : {}), days: Number(fields.days) });
          res.setHeader('content-type', 'text/csv; charset=utf-8');
          res.setHeader('content-disposition', `attachment; filename="${filename.replace(/[^\w.-]/g, '_')}"`);
          res.writeHead(200);
          res.end(csv);
        });
      };
    },
  };
}
