// Slack's published Block Kit and message limits, checked the way Slack checks them: a payload over any
// limit is refused whole, with `invalid_blocks` (and the JSON pointer of each problem) or
// `msg_too_long`. Limits from Slack's Block Kit reference (blocks, block elements, composition objects)
// and the chat.postMessage method page.
type Json = Record<string, unknown>;

/** `text` of a message: Slack truncates past 4,000 characters and refuses past 40,000. */
export const MESSAGE_TEXT_MAX = 40_000;

const LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  sectionText: 3_000,
  sectionFields: 10,
  fieldText: 2_000,
  headerText: 150,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2_000,
  optionText: 75,
  optionValue: 150,
  options: 100,
  id: 255,
  inputLabel: 2_000,
  hint: 2_000,
  placeholder: 150,
  viewTitle: 24,
} as const;

function textOf(v: unknown): string | undefined {
  return v && typeof v === 'object' && typeof (v as Json).text === 'string' ? ((v as Json).text as string) : undefined;
}

/** Every way `blocks` break Slack's limits, as Slack words them (`must be less than 3001 characters [json-pointer:/blocks/2/text/text]`). */
export function blockProblems(blocks: unknown, opts: { maxBlocks?: number; at?: string } = {}): string[] {
  const at = opts.at ?? '/blocks';
  const problems: string[] = [];
  const tooLong = (value: string | undefined, max: number, pointer: string) => {
    if (value !== undefined && value.length > max) problems.push(`must be less than ${max + 1} characters [json-pointer:${pointer}]`);
  };
  const tooMany = (list: unknown, max: number, pointer: string) => {
    if (Array.isArray(list) && list.length > max) problems.push(`must be less than ${max + 1} items [json-pointer:${pointer}]`);
  };
  if (!Array.isArray(blocks)) return [];
  tooMany(blocks, opts.maxBlocks ?? LIMITS.messageBlocks, at);
  const element = (el: Json, p: string) => {
    tooLong(el.action_id as string | undefined, LIMITS.id, `${p}/action_id`);
    if (el.type === 'button') {
      tooLong(textOf(el.text), LIMITS.buttonText, `${p}/text/text`);
      tooLong(el.value as string | undefined, LIMITS.buttonValue, `${p}/value`);
    }
    tooLong(textOf(el.placeholder), LIMITS.placeholder, `${p}/placeholder/text`);
    const options = el.options as Json[] | undefined;
    tooMany(options, LIMITS.options, `${p}/options`);
    (options ?? []).forEach((o, i) => {
      tooLong(textOf(o.text), LIMITS.optionText, `${p}/options/${i}/text/text`);
      tooLong(o.value as string | undefined, LIMITS.optionValue, `${p}/options/${i}/value`);
    });
  };
  blocks.forEach((raw, i) => {
    const b = raw as Json;
    const p = `${at}/${i}`;
    tooLong(b.block_id as string | undefined, LIMITS.id, `${p}/block_id`);
    switch (b.type) {
      case 'section':
        tooLong(textOf(b.text), LIMITS.sectionText, `${p}/text/text`);
        tooMany(b.fields, LIMITS.sectionFields, `${p}/fields`);
        ((b.fields as unknown[]) ?? []).forEach((f, j) => tooLong(textOf(f), LIMITS.fieldText, `${p}/fields/${j}/text`));
        if (b.accessory) element(b.accessory as Json, `${p}/accessory`);
        break;
      case 'header':
        tooLong(textOf(b.text), LIMITS.headerText, `${p}/text/text`);
        break;
      case 'context':
        tooMany(b.elements, LIMITS.contextElements, `${p}/elements`);
        ((b.elements as unknown[]) ?? []).forEach((e, j) => tooLong(textOf(e), LIMITS.sectionText, `${p}/elements/${j}/text`));
        break;
      case 'actions':
        tooMany(b.elements, LIMITS.actionsElements, `${p}/elements`);
        ((b.elements as Json[]) ?? []).forEach((e, j) => element(e, `${p}/elements/${j}`));
        break;
      case 'input':
        tooLong(textOf(b.label), LIMITS.inputLabel, `${p}/label/text`);
        tooLong(textOf(b.hint), LIMITS.hint, `${p}/hint/text`);
        if (b.element) element(b.element as Json, `${p}/element`);
        break;
    }
  });
  return problems;
}

/** A view (modal or Home tab): 100 blocks, a 24-character title. */
export function viewProblems(view: unknown): string[] {
  if (!view || typeof view !== 'object') return [];
  const v = view as Json;
  const problems = blockProblems(v.blocks, { maxBlocks: LIMITS.viewBlocks, at: '/view/blocks' });
  for (const key of ['title', 'submit', 'close']) {
    const t = textOf(v[key]);
    if (t !== undefined && t.length > LIMITS.viewTitle) problems.push(`must be less than ${LIMITS.viewTitle + 1} characters [json-pointer:/view/${key}/text]`);
  }
  return problems;
}

/** Slack's answer to a message it refuses, or null when it fits. */
export function messageRefusal(args: Json): Json | null {
  if (typeof args.text === 'string' && args.text.length > MESSAGE_TEXT_MAX) return { ok: false, error: 'msg_too_long' };
  const problems = blockProblems(args.blocks);
  if (problems.length === 0) return null;
  return { ok: false, error: 'invalid_blocks', errors: problems, response_metadata: { messages: problems.map((m) => `[ERROR] ${m}`) } };
}

/** Slack's answer to a view it refuses, or null when it fits. */
export function viewRefusal(view: unknown): Json | null {
  const problems = viewProblems(view);
  return problems.length === 0 ? null : { ok: false, error: 'invalid_arguments', response_metadata: { messages: problems.map((m) => `[ERROR] ${m}`) } };
}
