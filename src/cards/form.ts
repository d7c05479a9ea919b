// The request form (`jit` alone) as a card, and its inputs read back from a submit.
import type { FormField, FormInput, FormView } from '../core/views';
import { formatDuration } from '../core/duration';
import { summariseList } from '../core/text';
import { expand, messageCard, sourcesText, type AdaptiveCardJson } from './expand';

export interface FormCardOptions {
  /** What the person typed last time (shown again after a refused submit). */
  values?: Partial<FormInput>;
  /** One line per field that was wrong. */
  errors?: Partial<Record<FormField, string>>;
}

/** The input ids of the form card; an `Action.Execute` with verb `submit-form` sends them in `data`. */
export const FORM_INPUT_IDS: readonly FormField[] = ['vm', 'ports', 'duration', 'source', 'reason'];

function portChoices(form: FormView): Array<{ title: string; value: string }> {
  const byValue = new Map<string, { label: string; vms: string[] }>();
  for (const vm of form.vms) {
    for (const p of vm.ports) {
      const entry = byValue.get(p.value) ?? { label: p.label, vms: [] };
      entry.vms.push(vm.name);
      byValue.set(p.value, entry);
    }
  }
  return [...byValue.entries()].map(([value, e]) => ({
    value,
    title: e.vms.length === form.vms.length || form.vms.length === 1 ? e.label : `${e.label} (${summariseList(e.vms, { maxItems: 3, maxChars: 60 })})`,
  }));
}

/** VMs the form offers as choices; Teams' filtered choice set lets people type to find one. */
export const FORM_VM_CHOICES_MAX = 250;
/** VMs whose limits the form spells out; `jit vms` shows the rest. */
const FORM_LIMIT_LINES_MAX = 10;

function formLimits(form: FormView): string[] {
  const lines = form.vms.slice(0, FORM_LIMIT_LINES_MAX).map((vm) => {
    const ports = vm.ports.map((p) => p.label).join(', ');
    return `${vm.name}: ${ports}; max ${formatDuration(vm.maxMinutes)}; ${sourcesText(vm.sources)}`;
  });
  if (form.vms.length > FORM_LIMIT_LINES_MAX) lines.push(`…and ${form.vms.length - FORM_LIMIT_LINES_MAX} more VMs; jit vms <start of a name> shows each one's limits.`);
  if (form.vms.length > FORM_VM_CHOICES_MAX) {
    lines.push(`The VM list holds the first ${FORM_VM_CHOICES_MAX} of ${form.vms.length}; for any other, type the request: jit ssh <vm> 1h.`);
  }
  return lines;
}

function sourcePlaceholder(form: FormView): string {
  const prefixes = [...new Set(form.vms.flatMap((v) => v.sources))];
  if (prefixes.length === 0 || prefixes.includes('*')) return 'Your address, e.g. 203.0.113.7 or 10.1.2.0/24';
  return `An address inside ${prefixes.join(', ')}`;
}

/** The request form (`jit` alone): VM, ports, duration, source and reason, limited to what this person may ask for. */
export function formCard(form: FormView, opts: FormCardOptions = {}): AdaptiveCardJson {
  if (form.vms.length === 0) return messageCard({ text: 'There are no VMs you may request.', tone: 'attention' });
  const v = { ...opts.values };
  const d = form.defaults;
  const errors = opts.errors ?? {};
  const fieldErrors: Record<string, string | boolean> = {};
  for (const f of FORM_INPUT_IDS) {
    const key = `has${f[0].toUpperCase()}${f.slice(1)}`;
    fieldErrors[key] = Boolean(errors[f]);
    fieldErrors[f] = errors[f] ?? '';
  }
  const problemCount = Object.values(errors).filter(Boolean).length;
  return expand('form', {
    hasProblem: problemCount > 0,
    problem: problemCount === 1 ? 'One field needs a fix.' : `${problemCount} fields need a fix.`,
    values: {
      vm: v.vm ?? d.vm ?? (form.vms.length === 1 ? form.vms[0].name : ''),
      ports: v.ports ?? d.port ?? '',
      duration: v.duration ?? d.duration ?? '',
      source: (v.source ?? d.source ?? '') === 'me' ? '' : (v.source ?? d.source ?? ''),
      fromMe: (v.source ?? d.source) === 'me' ? 'true' : 'false',
      reason: v.reason ?? d.reason ?? '',
    },
    errors: fieldErrors,
    vmChoices: form.vms.slice(0, FORM_VM_CHOICES_MAX).map((vm) => ({ title: vm.name, value: vm.name })),
    portChoices: portChoices(form),
    durationChoices: form.durations.map((x) => ({ title: x.label, value: x.value })),
    sourcePlaceholder: sourcePlaceholder(form),
    limits: formLimits(form),
  });
}
/** The form's inputs out of an action's `data` (inputs arrive merged into it). */
export function formInputFrom(data: Record<string, unknown>): FormInput {
  const s = (k: FormField): string => (typeof data[k] === 'string' ? (data[k] as string) : typeof data[k] === 'number' ? String(data[k]) : '');
  const input: FormInput = { vm: s('vm').trim(), ports: s('ports').trim(), duration: s('duration').trim() };
  const source = s('source').trim();
  const reason = s('reason').trim();
  const fromMe = data.fromMe === 'true' || data.fromMe === true;
  if (fromMe) input.source = 'me';
  else if (source) input.source = source;
  if (reason) input.reason = reason;
  return input;
}
