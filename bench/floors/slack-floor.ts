// The Slack floor: a bare Bolt app doing the visible work of `/jit <request>` and nothing else, run as
// its own process like the bot. Same receiver and options as src/slack/adapter.ts (HTTPReceiver on
// /slack/events, signature checks, processBeforeResponse false). Per command it looks the user up
// (users.info: the answer depends on who asks, and a bare app has no cache), acknowledges with an
// ephemeral answer, and posts one Block Kit message with a button, as the bot's approval card is.
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';

const port = Number(process.env.PORT ?? 0);
const signingSecret = process.env.SLACK_SIGNING_SECRET ?? '';
const token = process.env.SLACK_BOT_TOKEN ?? '';
const apiUrl = process.env.SLACK_API_URL ?? '';
const channel = 'C0JITAPPROVALS';

const receiver = new HTTPReceiver({ signingSecret, endpoints: '/slack/events', processBeforeResponse: false, logLevel: LogLevel.ERROR });
const app = new App({
  receiver,
  token,
  // Both ids given: Bolt skips auth.test, as our adapter's own authorize does.
  botId: 'B0BOT',
  botUserId: 'U0BOT',
  logLevel: LogLevel.ERROR,
  clientOptions: { slackApiUrl: apiUrl, retryConfig: { retries: 0 } },
});

let seq = 0;
app.command('/jit', async ({ command, ack, client }) => {
  const info = await client.users.info({ user: command.user_id });
  const name = info.user?.real_name ?? command.user_name;
  const id = `F${(++seq).toString(36).toUpperCase().padStart(5, '0')}`;
  await ack({ response_type: 'ephemeral', text: `Sent for approval: ${id} (${command.text}).` });
  await client.chat.postMessage({
    channel,
    text: `${name} asks: ${command.text}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${name}* asks: ${command.text}` } },
      { type: 'actions', block_id: 'jit_card', elements: [{ type: 'button', action_id: 'jit_approve', text: { type: 'plain_text', text: 'Approve' }, style: 'primary', value: id }] },
    ],
  });
});

void app.start({ port, host: '127.0.0.1' }).then(() => process.stdout.write(`ready ${port}\n`));
process.on('SIGTERM', () => void app.stop().finally(() => process.exit(0)));
