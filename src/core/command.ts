// The typed commands of DESIGN §3. `grammar.ts` turns words into one of these or a CommandError.
import type { PortSpec } from './types';

export type Command =
  | RequestCommand
  | { kind: 'form' }
  | { kind: 'help' }
  | { kind: 'vms'; filter?: string; page?: number }
  | { kind: 'status' }
  | { kind: 'cancel'; id: string }
  | { kind: 'release'; id: string }
  | { kind: 'extend'; id: string; durationMinutes: number }
  | { kind: 'policy'; vm: string }
  | EnableCommand
  | { kind: 'audit'; vm?: string; days?: number }
  | { kind: 'whois'; email: string };

export interface RequestCommand {
  kind: 'request';
  ports: PortSpec[];
  /** VM names, or globs with a trailing `*`. */
  vms: string[];
  durationMinutes: number;
  /** Address or CIDR, normalised, or FROM_ME (`from me`); absent when not given. */
  source?: string;
  reason?: string;
}

export interface EnableCommand {
  kind: 'enable';
  vm: string;
  ports?: PortSpec[];
  maxDurationMinutes?: number;
  sources?: string[];
}

export type CommandKind = Command['kind'];

/** What was wrong, in one line, and the right form of the command the user was attempting. */
export interface CommandError {
  message: string;
  usage: string;
}

export type ParseResult = { ok: true; command: Command } | { ok: false; error: CommandError };

/** One line per command, used by help and by every error. */
export const USAGE: Record<CommandKind, string> = {
  request: '/jit <ports> <vms> <duration> [from <source>|me] [for <reason…>]',
  form: '/jit',
  help: '/jit help',
  vms: '/jit vms [<name filter>] [page <n>]',
  status: '/jit status',
  cancel: '/jit cancel <id>',
  release: '/jit release <id>',
  extend: '/jit extend <id> <duration>',
  policy: '/jit policy <vm>',
  enable: '/jit enable <vm> [<ports>] [max <duration>] [from <prefixes>]',
  audit: '/jit audit [<vm>] [<n>d]',
  whois: '/jit whois <email>',
};

export const HELP_LINES: ReadonlyArray<{ usage: string; description: string; admin?: boolean }> = [
  { usage: USAGE.request, description: 'ask for access to management ports' },
  { usage: USAGE.form, description: 'open the request form' },
  { usage: USAGE.vms, description: 'VMs you may request, with their JIT ports and limits; filter by the start of a name' },
  { usage: USAGE.status, description: 'your pending and active requests, and what waits for your approval' },
  { usage: USAGE.cancel, description: 'withdraw your pending request' },
  { usage: USAGE.release, description: 'close your open access now' },
  { usage: USAGE.extend, description: 'ask for more time (same approval rules)' },
  { usage: USAGE.policy, description: "show a VM's JIT policy" },
  { usage: USAGE.enable, description: 'put a VM under JIT (admins)', admin: true },
  { usage: USAGE.audit, description: 'audit trail as CSV (admins)', admin: true },
  { usage: USAGE.whois, description: "a person's groups and access rules, and where each comes from (admins)", admin: true },
];

export const HELP_EXAMPLES: readonly string[] = [
  '/jit ssh web-01 1h from 10.1.2.3 for INC-4711',
  '/jit rdp,winrm-https sql-01 30m from 203.0.113.7 for patching',
  '/jit ssh web-01 1h from me for INC-4711',
  '/jit 8443/tcp web-* 1h30m from 10.0.0.0/24 for deploy',
];
