// The Teams floor: a bare botbuilder CloudAdapter bot behind restify in no-auth mode (as local mode
// runs the bot), in its own process. Per message it answers once in the turn and posts one Adaptive
// Card with a button into the approvals channel, after the answer and outside the turn, the way the
// bot's approval card goes out (a proactive `POST /v3/conversations` through
// continueConversationAsync). Nothing else: no store, no lookups.
import * as restify from 'restify';
import { ActivityHandler, CardFactory, CloudAdapter, ConfigurationBotFrameworkAuthentication, type ConversationParameters, type ConversationReference } from 'botbuilder';

const port = Number(process.env.PORT ?? 0);
const channelId = process.env.TEAMS_CHANNEL_ID ?? '';
const tenantId = process.env.TEAMS_TENANT_ID ?? '';

const auth = new ConfigurationBotFrameworkAuthentication({ MicrosoftAppId: '', MicrosoftAppPassword: '', MicrosoftAppType: 'MultiTenant', MicrosoftAppTenantId: '' });
const adapter = new CloudAdapter(auth);
adapter.onTurnError = async (_ctx, err) => {
  process.stderr.write(`turn failed: ${String(err)}\n`);
};

interface ConnectorLike {
  conversations: { createConversation(p: ConversationParameters): Promise<unknown> };
}

let seq = 0;

function postCard(serviceUrl: string, bot: ConversationReference['bot'], id: string, text: string): void {
  const card = {
    type: 'AdaptiveCard',
    version: '1.5',
    body: [{ type: 'TextBlock', text: `Request ${id}: ${text}`, wrap: true }],
    actions: [{ type: 'Action.Execute', title: 'Approve', verb: 'approve', data: { verb: 'approve', requestId: id } }],
  };
  const ref: Partial<ConversationReference> = { serviceUrl, channelId: 'msteams', bot, conversation: { id: channelId, isGroup: true, conversationType: 'channel', tenantId } as ConversationReference['conversation'] };
  void adapter
    .continueConversationAsync('', ref, async (ctx) => {
      const connector = ctx.turnState.get(ctx.adapter.ConnectorClientKey) as ConnectorLike;
      await connector.conversations.createConversation({
        isGroup: true,
        bot,
        channelData: { channel: { id: channelId }, tenant: { id: tenantId } },
        activity: { type: 'message', attachments: [CardFactory.adaptiveCard(card)] },
        tenantId,
      } as ConversationParameters);
    })
    .catch((err: unknown) => process.stderr.write(`card post failed: ${String(err)}\n`));
}

class FloorBot extends ActivityHandler {
  constructor() {
    super();
    this.onMessage(async (ctx, next) => {
      const id = `F${(++seq).toString(36).toUpperCase().padStart(5, '0')}`;
      await ctx.sendActivity(`Sent for approval: ${id}.`);
      postCard(ctx.activity.serviceUrl, ctx.activity.recipient, id, ctx.activity.text ?? '');
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
