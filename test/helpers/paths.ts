import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const LOCAL_CONFIG = path.join(REPO_ROOT, 'examples', 'local.yaml');
