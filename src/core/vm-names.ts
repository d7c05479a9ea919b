// Turning the VM names a person typed into VMs: exact names, `rg/name`, and trailing-`*` globs.
// A name must point at one VM; when it does not, the answer says which VMs it could have meant.
import { JitError } from './errors';
import { isGlob, matchGlob } from './glob';
import { closestMatch, quoteWord } from './text';
import type { Vm } from './types';

export type VmResolution = { ok: true; vms: Vm[] } | { ok: false; error: JitError };

/** `rg-web/web-01` → resource group and name; `web-01` → name only. */
export function splitVmName(text: string): { resourceGroup: string | null; name: string } {
  const slash = text.indexOf('/');
  return slash < 0
    ? { resourceGroup: null, name: text.trim() }
    : { resourceGroup: text.slice(0, slash).trim(), name: text.slice(slash + 1).trim() };
}

export function qualifiedName(vm: Pick<Vm, 'resourceGroup' | 'name'>): string {
  return `${vm.resourceGroup}/${vm.name}`;
}

/** The VMs one name or glob stands for; Azure names are case-insensitive. */
export function matchVmName(text: string, vms: readonly Vm[]): Vm[] {
  const { resourceGroup, name } = splitVmName(text);
  return vms.filter(
    (vm) =>
      (resourceGroup === null || vm.resourceGroup.toLowerCase() === resourceGroup.toLowerCase()) &&
      (isGlob(name) ? matchGlob(name, vm.name) : vm.name.toLowerCase() === name.toLowerCase()),
  );
}

/** `"web-1" is not a VM you can request; did you mean web-01?` */
export function unknownVmError(text: string, suggestFrom: readonly Vm[]): JitError {
  const { name } = splitVmName(text);
  const near = isGlob(name) ? null : closestMatch(name, new Set(suggestFrom.map((vm) => vm.name)));
  const hint = near ? `did you mean ${near}?` : 'see /jit vms for the list';
  return isGlob(name)
    ? new JitError('not_found', `${quoteWord(text)} matches no VM you can request; ${hint}`)
    : new JitError('not_found', `${quoteWord(text)} is not a VM you can request; ${hint}`);
}

/**
 * Every name must match: an exact name exactly one VM, a glob at least one. The same VM named twice
 * counts once, in first-named order. `suggestFrom` limits "did you mean" to VMs the person may see
 * (default: `vms`).
 */
export function resolveVmNames(names: readonly string[], vms: readonly Vm[], suggestFrom: readonly Vm[] = vms): VmResolution {
  const found: Vm[] = [];
  for (const text of names) {
    const matches = matchVmName(text, vms);
    if (matches.length === 0) return { ok: false, error: unknownVmError(text, suggestFrom) };
    if (!isGlob(text) && matches.length > 1) {
      const where = matches.map(qualifiedName).join(', ');
      return { ok: false, error: new JitError('bad_command', `${quoteWord(text)} is in more than one resource group (${where}); name one of them`) };
    }
    for (const vm of matches) if (!found.some((f) => f.id === vm.id)) found.push(vm);
  }
  return { ok: true, vms: found };
}
