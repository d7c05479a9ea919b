// What Azure needs before JIT can work for a VM, judged from facts the adapters read: the Defender
// for Servers plan of the subscription, and the length of the policy and VM names.
import type { VmRef } from './types';

/** Azure: "the policy name, together with the targeted VM name, must not exceed a total of 56 characters". */
export const MAX_POLICY_AND_VM_NAME = 56;

/** The policy a VM is (or would be) in: the portal and the bot use `default` unless Azure says otherwise. */
export function policyNameOf(vm: Pick<VmRef, 'policyName'>): string {
  return vm.policyName ?? 'default';
}

/** One line saying why Azure cannot write this VM's JIT rules; null when the names fit. */
export function nameLimitProblem(vm: Pick<VmRef, 'name' | 'policyName'>): string | null {
  const policy = policyNameOf(vm);
  const total = policy.length + vm.name.length;
  if (total <= MAX_POLICY_AND_VM_NAME) return null;
  return `Azure cannot open ${vm.name}: the JIT policy name "${policy}" and the VM name together are ${total} characters, over Azure's limit of ${MAX_POLICY_AND_VM_NAME}`;
}

/** The `Microsoft.Security/pricings/VirtualMachines` answer, as far as JIT cares. */
export interface DefenderPlan {
  pricingTier: string;
  subPlan?: string;
}

export interface JitAvailability {
  available: boolean;
  /** `Defender for Servers Plan 2`, `Free (Defender for Servers off)`, `Defender for Servers Plan 1`. */
  plan: string;
  /** One plain line for people: why requests cannot work, or that they can. */
  message: string;
}

/** JIT VM access is part of Defender for Servers Plan 2 only. */
export function jitAvailability(p: DefenderPlan): JitAvailability {
  const standard = p.pricingTier.toLowerCase() === 'standard';
  const sub = (p.subPlan ?? '').toUpperCase();
  // A Standard tier that names no sub-plan predates the P1/P2 split, when Standard had JIT.
  if (standard && (sub === 'P2' || sub === '')) {
    return { available: true, plan: 'Defender for Servers Plan 2', message: 'Defender for Servers Plan 2 is on: JIT VM access is available.' };
  }
  const plan = standard ? `Defender for Servers Plan ${sub.replace(/^P/, '')}` : `${p.pricingTier} (Defender for Servers off)`;
  return {
    available: false,
    plan,
    message: `JIT VM access is unavailable: the subscription has ${plan}, and JIT needs Defender for Servers Plan 2. Ask an Azure admin to enable it.`,
  };
}
