// The request form's wire names, shared by the renderer and the submission handler, and the
// reading of a submitted modal's state back into the api's FormInput.
import type { FormField, FormInput } from '../core/views';

export const FORM_CALLBACK_ID = 'jit_request_form';

/** Block ids double as the keys of `response_action: 'errors'`, so a field error lands under its input. */
export const FORM_BLOCK_IDS: Readonly<Record<FormField, string>> = {
  vm: 'jit_vm',
  ports: 'jit_ports',
  duration: 'jit_duration',
  source: 'jit_source',
  reason: 'jit_reason',
};

export const FORM_ACTION_ID = 'value';

/** The "my address" choice: a checkbox beside the source field, read as `from me`. */
export const FROM_ME_BLOCK_ID = 'jit_from_me';

interface StateValue {
  type?: string;
  value?: string | null;
  selected_option?: { value?: string } | null;
  selected_options?: Array<{ value?: string }>;
}

export type FormState = Record<string, Record<string, StateValue> | undefined>;

function read(state: FormState, field: FormField): string {
  const v = state[FORM_BLOCK_IDS[field]]?.[FORM_ACTION_ID];
  if (!v) return '';
  if (Array.isArray(v.selected_options)) {
    return v.selected_options
      .map((o) => o.value ?? '')
      .filter((s) => s !== '')
      .join(',');
  }
  if (v.selected_option) return v.selected_option.value ?? '';
  return typeof v.value === 'string' ? v.value.trim() : '';
}

/** What the person chose; empty optional fields are left out so the api applies its defaults. */
export function readFormInput(state: FormState): FormInput {
  const input: FormInput = { vm: read(state, 'vm'), ports: read(state, 'ports'), duration: read(state, 'duration') };
  const source = read(state, 'source');
  const reason = read(state, 'reason');
  const fromMe = state[FROM_ME_BLOCK_ID]?.[FORM_ACTION_ID]?.selected_options?.some((o) => o.value === 'me') ?? false;
  if (fromMe) input.source = 'me';
  else if (source !== '') input.source = source;
  if (reason !== '') input.reason = reason;
  return input;
}

/** The api's field errors keyed by block id, as Slack expects them. */
export function formErrors(errors: Partial<Record<FormField, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, message] of Object.entries(errors) as Array<[FormField, string | undefined]>) {
    if (message && FORM_BLOCK_IDS[field]) out[FORM_BLOCK_IDS[field]] = message;
  }
  return out;
}
