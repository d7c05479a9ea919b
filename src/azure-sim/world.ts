// The simulated subscription's seed: VMs, their OS, tags and JIT port rules (from the local world file).
import type { OsType, PortRule } from '../core/types';

export interface SimVm {
  name: string;
  resourceGroup: string;
  location: string;
  os: OsType;
  tags: Record<string, string>;
  /** null: the VM is not under JIT. */
  jit: PortRule[] | null;
}

export interface SimWorld {
  subscriptionId: string;
  /** Real loopback TCP listeners per protected port that accept only while the NSG allows. */
  guard: boolean;
  vms: SimVm[];
}
