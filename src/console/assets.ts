// The page's static files. They live in src/console/public and are read from disk: the TypeScript
// build copies no such files into dist/, so both `tsx src/…` and `node dist/src/…` find them from the
// repository root.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const PUBLIC_DIR = path.join('src', 'console', 'public');

/** The nearest folder above `from` that holds package.json and the console's public files. */
export function findRepoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, PUBLIC_DIR, 'index.html'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`console: cannot find ${PUBLIC_DIR} above ${from}`);
    dir = parent;
  }
}

export interface Asset {
  contentType: string;
  body: Buffer;
}

export interface Assets {
  page: () => Asset;
  appJs: () => Asset;
  appCss: () => Asset;
  adaptiveCardsJs: () => Asset;
  /** markdown-it's browser build: the console draws card markdown with it, as Teams draws markdown. */
  markdownItJs: () => Asset;
}

/**
 * Files are read on first use and kept: they never change while the bot runs, except during
 * development, where `reload` re-reads them on every request so an edit shows on refresh.
 */
export function createAssets(opts: { reload?: boolean } = {}): Assets {
  const publicDir = path.join(findRepoRoot(), PUBLIC_DIR);
  // The UMD build runs in the browser as is; lib/ would need a bundler (notes §4.6).
  const adaptiveCards = require.resolve('adaptivecards/dist/adaptivecards.min.js');
  // The package's exports map hides dist/; its folder is found through package.json instead.
  const markdownIt = path.join(path.dirname(require.resolve('markdown-it/package.json')), 'dist', 'markdown-it.min.js');
  const cache = new Map<string, Buffer>();
  const load = (file: string, contentType: string) => (): Asset => {
    let body = opts.reload ? undefined : cache.get(file);
    if (!body) {
      body = readFileSync(file);
      cache.set(file, body);
    }
    return { contentType, body };
  };
  return {
    page: load(path.join(publicDir, 'index.html'), 'text/html; charset=utf-8'),
    appJs: load(path.join(publicDir, 'app.js'), 'text/javascript; charset=utf-8'),
    appCss: load(path.join(publicDir, 'app.css'), 'text/css; charset=utf-8'),
    adaptiveCardsJs: load(adaptiveCards, 'text/javascript; charset=utf-8'),
    markdownItJs: load(markdownIt, 'text/javascript; charset=utf-8'),
  };
}
