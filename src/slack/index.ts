// The Slack adapter's public face: the composition root needs only createSlackAdapter.
export { createSlackAdapter, SLACK_EVENTS_PATH, type SlackAdapter, type SlackAdapterOptions } from './adapter';
export { readSlackMessageRef, slackMessageRef, type SlackMessageLocation } from './chat-port';
export type { LoggerLike } from './log';
