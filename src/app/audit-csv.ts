// The audit trail as CSV for admins. Cells that a spreadsheet would run as a formula are defused.
import type { AuditEvent } from '../core/types';

const HEADER = ['time_utc', 'request', 'event', 'actor_email', 'actor_name', 'platform', 'vms', 'details'];

function cell(value: string): string {
  const defused = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(defused) ? `"${defused.replace(/"/g, '""')}"` : defused;
}

export function auditCsv(events: readonly AuditEvent[]): string {
  const lines = [HEADER.join(',')];
  for (const e of events) {
    lines.push(
      [
        e.at.toISOString(),
        e.requestId ?? '',
        e.type,
        e.actor?.email ?? '',
        e.actor?.name ?? '',
        e.platform ?? '',
        e.vmNames.join(' '),
        JSON.stringify(e.details),
      ]
        .map(cell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}
