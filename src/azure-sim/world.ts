// The simulated subscription's seed: VMs, their OS, tags and JIT port rules (from the local world file).
import type { Vm } from '../core/types';

/** A VM as seeded: the simulator gives it its ARM id; `jit: null` means not under JIT. */
export type SimVm = Pick<Vm, 'name' | 'resourceGroup' | 'location' | 'os' | 'tags' | 'jit'>;

export interface SimWorld {
  subscriptionId: string;
  /** Real loopback TCP listeners per protected port that accept only while the NSG allows. */
  guard: boolean;
  vms: SimVm[];
}
