// The Teams floor: a bare botbuilder CloudAdapter bot behind restify in no-auth mode (as local mode
// runs the bot), run as its own process. It answers each message once, with one Adaptive Card
// carrying an Action.Execute button, the way the bot answers a request, and does nothing else.
import * as restify from 'restify';
import { ActivityHandler, CardFactory, CloudAdapter, ConfigurationBotFrameworkAuthentication } from 'botbuilder';

const port = Number(process.env.PORT ?? 0);

const auth = new ConfigurationBotFrameworkAuthentication({ MicrosoftAppId: '', MicrosoftAppPassword: '', MicrosoftAppType: 'MultiTenant', MicrosoftAppTenantId: '' });
const adapter = new CloudAdapter(auth);
adapter.onTurnError = async (_ctx, err) => {
  process.stderr.write(`turn failed: ${String(err)}\n`);
};

let seq = 0;
class FloorBot extends ActivityHandler {
  constructor() {
    super();
    this.onMessage(async (ctx, next) => {
      const id = `F${(++seq).toString(36).toUpperCase().padStart(5, '0')}`;
      const card = {
        type: 'AdaptiveCard',
        $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
        version: '1.5',
        body: [
          { type: 'TextBlock', text: `Sent for approval: ${id}`, weight: 'Bolder', wrap: true },
          { type: 'TextBlock', text: ctx.activity.text ?? '', wrap: true },
        ],
        actions: [{ type: 'Action.Execute', title: 'Cancel request', verb: 'cancel', data: { verb: 'cancel', requestId: id } }],
      };
      await ctx.sendActivity({ type: 'message', attachments: [CardFactory.adaptiveCard(card)], summary: `Sent for approval: ${id}` });
      await next();
    });
  }
}
const bot = new FloorBot();

const server = restify.createServer({ name: 'teams-floor', handleUncaughtExceptions: false });
server.post('/api/messages', restify.plugins.bodyParser({ mapParams: false }), async (req: restify.Request, res: restify.Response) => {
  await adapter.process(req as never, res as never, (ctx) => bot.run(ctx));
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
