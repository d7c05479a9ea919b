// View models for VMs and the request form, from Azure's view of a VM plus the bot's own rules.
import { formatDuration, formatUtc } from '../core/duration';
import type { AccessRule } from '../core/policy';
import { nameLimitProblem } from '../core/azure-limits';
import type { AccessRequest, Vm } from '../core/types';
import { formatPort, openSourcesText, type FormView, type FormInput, type VmView } from '../core/views';

export function vmView(vm: Vm, ctx: { rule: AccessRule | null; lastAccess: Date | null; active: AccessRequest[]; now: Date }): VmView {
  const problem = nameLimitProblem(vm);
  return {
    name: vm.name,
    resourceGroup: vm.resourceGroup,
    location: vm.location,
    os: vm.os,
    jit: vm.jit !== null,
    ports: (vm.jit ?? []).map((p) => ({
      port: String(p.number),
      protocol: p.protocol === '*' ? 'any' : p.protocol,
      sources: p.allowedSourcePrefixes,
      max: formatDuration(p.maxDurationMinutes),
    })),
    approvals: ctx.rule ? (ctx.rule.autoApprove ? 0 : ctx.rule.approvals) : null,
    lastAccess: ctx.lastAccess ? formatUtc(ctx.lastAccess, ctx.now) : null,
    open: ctx.active
      .filter((r) => r.state === 'active' && r.endsAt)
      .map((r) => `${r.ports.map(formatPort).join(', ')} from ${openSourcesText(r)} until ${formatUtc(r.endsAt as Date, ctx.now)} (${r.requester.name}, ${r.id})`),
    ...(problem ? { warning: problem } : {}),
  };
}

const DURATION_CHOICES = [15, 30, 60, 90, 120, 180, 240, 360, 480, 720, 1440];

export function formView(vms: Vm[], defaults: Partial<FormInput>): FormView {
  const longest = Math.max(...vms.map((vm) => Math.max(...(vm.jit ?? []).map((p) => p.maxDurationMinutes))));
  return {
    vms: vms.map((vm) => ({
      name: vm.name,
      ports: (vm.jit ?? []).map((p) => ({
        value: p.protocol === '*' ? String(p.number) : `${p.number}/${p.protocol.toLowerCase()}`,
        label: `${p.number}${p.protocol === '*' ? '' : `/${p.protocol}`} (max ${formatDuration(p.maxDurationMinutes)})`,
      })),
      maxMinutes: Math.min(...(vm.jit ?? []).map((p) => p.maxDurationMinutes)),
      sources: [...new Set((vm.jit ?? []).flatMap((p) => p.allowedSourcePrefixes))],
    })),
    durations: DURATION_CHOICES.filter((m) => m <= longest).map((m) => ({ value: formatDuration(m), label: formatDuration(m) })),
    defaults: {
      ...(defaults.vm ? { vm: defaults.vm } : vms.length === 1 ? { vm: vms[0].name } : {}),
      ...(defaults.ports ? { port: defaults.ports } : {}),
      duration: defaults.duration ?? '1h',
      ...(defaults.source ? { source: defaults.source } : {}),
      ...(defaults.reason ? { reason: defaults.reason } : {}),
    },
  };
}
