// The simulated subscription's seed: VMs, their OS, tags and JIT port rules (from the local world file).
import type { Vm } from '../core/types';

/** A VM behind Azure Firewall: people connect to the firewall's public address on a mapped port. */
export interface SimFirewall {
  publicIpAddress: string;
  /** VM port → the firewall's DNAT port; a port not listed gets 50000 + its number when that fits. */
  mappedPorts: Record<number, number>;
}

/** A VM as seeded: the simulator gives it its ARM id; `jit: null` means not under JIT. */
export type SimVm = Pick<Vm, 'name' | 'resourceGroup' | 'location' | 'os' | 'tags' | 'jit'> & {
  firewall?: SimFirewall;
  /** Every initiate for this VM fails when Azure would write the NSG rule, with these words. */
  applyFails?: string;
};

/** The Defender for Servers plan (`Microsoft.Security/pricings/VirtualMachines`). */
export interface SimDefender {
  pricingTier: 'Free' | 'Standard';
  /** `P1` or `P2` on Standard; JIT needs P2. */
  subPlan?: string;
}

export interface SimWorld {
  subscriptionId: string;
  /** Real loopback TCP listeners per protected port that accept only while the NSG allows. */
  guard: boolean;
  vms: SimVm[];
  /** Defaults to Standard, P2 (JIT available). */
  defender?: SimDefender;
}
