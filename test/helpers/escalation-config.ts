// examples/local.yaml with escalation switched on, read through the real validation.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { configFromDocument, type LoadedConfig } from '../../src/config/file';
import { LOCAL_CONFIG } from './paths';

type Doc = { rules: Array<Record<string, unknown>> };

/** web escalates to Dave after 20 minutes; sql to its own approvers after 20. `edit` changes more. */
export function escalatingConfig(edit: (doc: Doc) => void = () => {}): LoadedConfig {
  const doc = YAML.parse(readFileSync(LOCAL_CONFIG, 'utf8')) as Doc;
  doc.rules[0] = { ...doc.rules[0], escalateAfterMinutes: 20, escalateTo: ['dave@example.com'] };
  doc.rules[1] = { ...doc.rules[1], escalateAfterMinutes: 20 };
  edit(doc);
  return configFromDocument(doc, 'test');
}
