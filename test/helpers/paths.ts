import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const LOCAL_CONFIG = path.join(REPO_ROOT, 'examples', 'local.yaml');
/** Published platform payloads, copied into the repository with their origins (test/vectors/README.md). */
export const VECTORS = path.join(REPO_ROOT, 'test', 'vectors');
