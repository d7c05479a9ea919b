import { startBot } from '../../src/main';
import { mkdtempSync } from 'node:fs';
(async () => {
  const log: any = { debug() {}, info() {}, warn: (o: any, m: any) => console.log('WARN', m, JSON.stringify(o)), error: (o: any, m: any) => console.log('ERROR', m, JSON.stringify(o)), child() { return log; } };
  const bot = await startBot({ PORT: '0', JITBOT_DATA_DIR: mkdtempSync('/tmp/jb-'), JITBOT_SIM_PORT: '0', JITBOT_CONFIG: '/work/main/examples/local.yaml' }, { logger: log, cwd: '/work/main' });
  const alice = { platform: 'console' as const, userId: 'alice@example.com', email: 'alice@example.com', name: 'Alice' };
  const bob = { platform: 'console' as const, userId: 'bob@example.com', email: 'bob@example.com', name: 'Bob' };
  const r: any = await bot.app.command(alice, 'ssh web-01 1h from 10.1.2.3 for test');
  console.log('reply', r.kind, r.request?.id);
  await bot.app.scheduler.drain();
  console.log(await bot.app.act(bob, 'approve', r.request.id));
  await bot.app.scheduler.drain();
  console.log('stats', JSON.stringify(bot.app.scheduler.stats));
  const sch: any = bot.app.scheduler;
  const orig = sch.requestRound.bind(sch);
  let n = 0;
  sch.requestRound = function () { const where = new Error().stack!.split('\n')[2].trim(); const before = [!!sch.currentRound, !!sch.nextRound]; const p = orig(); p.then((ran: number) => { if (n++ < 16) console.log('requestRound from', where, 'before', before, 'ran', ran, 'after', !!sch.currentRound, !!sch.nextRound); }); return p; };
  (bot.clock as any).advance(50 * 60_000);
  try { await bot.app.scheduler.drain({ maxRounds: 20 }); } catch (e) { console.log('drain', String(e)); }
  console.log('stats', JSON.stringify(bot.app.scheduler.stats));
  const jobs = await (bot.store as any).claimJobs('peek', bot.clock.now(), 1, 100);
  console.log('due jobs', JSON.stringify(jobs.map((j: any) => [j.kind, j.dueAt, j.attempts, j.key])));
  await bot.close();
})();
