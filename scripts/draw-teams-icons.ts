// Draws the Teams app icons from geometry, so the repository needs no image editor or binary source:
//   manifest/teams/color.png    192×192, the white symbol (96×96, centred) on the accent colour
//   manifest/teams/outline.png   32×32, the white symbol on transparency
// The symbol is an open padlock: access that is closed by default and opened for a while.
// Run: node --import tsx scripts/draw-teams-icons.ts   (the outputs are committed)
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { encodePng } from './lib/png';

/** Matches `accentColor` in manifest/teams/manifest.json. */
export const ACCENT = { r: 0x2b, g: 0x57, b: 0x97 };

type Shape = (x: number, y: number) => boolean;

function roundedRect(x0: number, y0: number, x1: number, y1: number, r: number): Shape {
  return (x, y) => {
    if (x < x0 || x > x1 || y < y0 || y > y1) return false;
    const cx = Math.min(Math.max(x, x0 + r), x1 - r);
    const cy = Math.min(Math.max(y, y0 + r), y1 - r);
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  };
}

function rect(x0: number, y0: number, x1: number, y1: number): Shape {
  return (x, y) => x >= x0 && x <= x1 && y >= y0 && y <= y1;
}

function circle(cx: number, cy: number, r: number): Shape {
  return (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

/** The upper half of a ring. */
function arch(cx: number, cy: number, outer: number, inner: number): Shape {
  return (x, y) => {
    if (y > cy) return false;
    const d = (x - cx) ** 2 + (y - cy) ** 2;
    return d <= outer * outer && d >= inner * inner;
  };
}

/** Is the unit-square point (0..1, y down) part of the padlock? */
export function padlock(x: number, y: number): boolean {
  const body = roundedRect(0.16, 0.46, 0.84, 0.96, 0.09);
  const keyhole = (px: number, py: number) => circle(0.5, 0.64, 0.075)(px, py) || rect(0.465, 0.64, 0.535, 0.84)(px, py);
  const shackle = (px: number, py: number) =>
    arch(0.5, 0.3, 0.27, 0.17)(px, py) ||
    rect(0.23, 0.3, 0.33, 0.5)(px, py) || // the closed side runs into the body
    rect(0.67, 0.3, 0.77, 0.36)(px, py); // the open side stops short of it
  return (body(x, y) && !keyhole(x, y)) || shackle(x, y);
}

/** Coverage (0..1) of the symbol over one pixel, sampled on a 6×6 grid. */
function coverage(px: number, py: number, box: { x: number; y: number; size: number }): number {
  const n = 6;
  let hit = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const u = (px + (i + 0.5) / n - box.x) / box.size;
      const v = (py + (j + 0.5) / n - box.y) / box.size;
      if (u >= 0 && u <= 1 && v >= 0 && v <= 1 && padlock(u, v)) hit++;
    }
  }
  return hit / (n * n);
}

export function drawColorIcon(): Buffer {
  const size = 192;
  const box = { x: 48, y: 48, size: 96 };
  const rgba = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const a = coverage(x, y, box);
      const i = (y * size + x) * 4;
      rgba[i] = Math.round(ACCENT.r + (255 - ACCENT.r) * a);
      rgba[i + 1] = Math.round(ACCENT.g + (255 - ACCENT.g) * a);
      rgba[i + 2] = Math.round(ACCENT.b + (255 - ACCENT.b) * a);
      rgba[i + 3] = 255;
    }
  }
  return encodePng(size, size, rgba);
}

export function drawOutlineIcon(): Buffer {
  const size = 32;
  const box = { x: 2, y: 2, size: 28 };
  const rgba = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      rgba[i] = 255;
      rgba[i + 1] = 255;
      rgba[i + 2] = 255;
      rgba[i + 3] = Math.round(255 * coverage(x, y, box));
    }
  }
  return encodePng(size, size, rgba);
}

export const ICON_DIR = path.resolve(__dirname, '..', 'manifest', 'teams');

if (require.main === module) {
  writeFileSync(path.join(ICON_DIR, 'color.png'), drawColorIcon());
  writeFileSync(path.join(ICON_DIR, 'outline.png'), drawOutlineIcon());
  process.stdout.write(`wrote ${path.join(ICON_DIR, 'color.png')} and outline.png\n`);
}
