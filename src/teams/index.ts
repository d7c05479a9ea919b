// Microsoft Teams: CloudAdapter + TeamsActivityHandler, Adaptive Cards with Action.Execute and
// user-specific refresh, proactive posts through stored conversation references.
export { createTeamsAdapter } from './lazy';
export { TEAMS_ROUTE, type TeamsAdapter, type TeamsAdapterOptions } from './activity';
export { decodeMessageRef, encodeMessageRef, type TeamsMessageRefData, type TeamsPost } from './chat';
export { commandText, plainText } from './text';
export { memberFromAnswer } from './identity';
export { KV as TEAMS_KV } from './directory';
