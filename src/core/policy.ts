// The bot's own access rules (DESIGN §2 "Access rule"), as validated config. Pure data.
import type { SourceLimits } from './cidr';
import type { Route } from './types';

export interface Person {
  email: string; // lower-cased
  name: string;
  /** Groups the person is known to be in: from the file and from the directories that answered. */
  groups: string[];
  /**
   * Directory groups whose membership could not be checked just now (the directory did not answer),
   * with the directory's name for the person. They grant nothing: rights fail closed.
   */
  unknownGroups?: UnknownGroup[];
}

/** A group whose membership lives in a directory that did not answer. */
export interface UnknownGroup {
  group: string;
  /** Said to the person: `Microsoft Entra ID`, `Slack`. */
  directory: string;
  /** `not-permitted`: the directory refused the bot (no consent, missing scope); else it did not answer. */
  why?: 'unreachable' | 'not-permitted';
}

/** A principal in a rule: `*` (anyone known), `group:<name>`, or an email. */
export type Principal = string;

/** Which VMs a rule covers; every given criterion must match (an empty selector matches nothing). */
export interface VmSelector {
  /** Name globs (`web-*`, `sql-01`). */
  names?: string[];
  resourceGroups?: string[];
  /** Every listed tag must be present with that value. */
  tags?: Record<string, string>;
}

export interface AccessRule {
  name: string;
  vms: VmSelector;
  requesters: Principal[];
  approvers: Principal[];
  /** Distinct approvals needed (≥ 1). */
  approvals: number;
  /** Open without waiting for approvers. */
  autoApprove: boolean;
  /** Lets a request omit the source where the port allows `*` (opens to any source). */
  allowAnySource: boolean;
  route: Route;
  /** An upper bound below the policy's own maximum, if the team wants one. */
  maxDurationMinutes?: number;
  /**
   * The longest a grant may stay open in total, extensions included, whoever approves. Without it
   * extensions past the request maximum still need approvers but have no ceiling.
   */
  maxTotalMinutes?: number;
  /** Sources wider than these count as "any source" (default /16 and /48). */
  sourceLimits?: SourceLimits;
  /**
   * Approvals count only after a fresh sign-in with a second factor: `true` for every approver, or
   * the principals (people, groups) who must step up while the others approve with a click.
   */
  stepUp?: true | Principal[];
  /**
   * A decision still open this many minutes after it was asked for (a pending request, or an
   * extension waiting for approval) is announced again to the escalation people, who may then
   * decide it too. Always shorter than the pending timeout.
   */
  escalateAfterMinutes?: number;
  /** Who is asked when a decision is escalated; without it, the rule's approvers are asked again. */
  escalateTo?: Principal[];
}

export interface AccessPolicy {
  people: Person[];
  /**
   * Names of the groups whose members a directory keeps (Entra ID, Slack user groups). Their members
   * are not all listed in `people`, so approvers are not counted from the file for rules naming them.
   */
  directoryGroups?: string[];
  /** Principals who may run admin commands (`enable`, `audit`). */
  admins: Principal[];
  /** First matching rule wins, as in a firewall. */
  rules: AccessRule[];
  /** Minutes before `endsAt` that the requester is warned. */
  reminderMinutes: number;
  /** Minutes a request may wait for approval before it times out. */
  pendingTimeoutMinutes: number;
}
