import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import { ACCENT, drawColorIcon, drawOutlineIcon } from '../../scripts/draw-teams-icons';
import { validateJson, type JsonSchema } from '../../scripts/lib/json-schema';
import { readPngHeader } from '../../scripts/lib/png';
import { readZip } from '../../scripts/lib/zip';
import { PLACEHOLDERS, SCHEMA_FILE, TEAMS_DIR, buildPackage, checkManifest, fillManifest, placeholdersIn, valuesFromEnv } from '../../scripts/package-teams';

const template = readFileSync(path.join(TEAMS_DIR, 'manifest.json'), 'utf8');
const values = { TEAMS_APP_ID: '8c1d6a7e-3f2b-4c5d-9e8f-0a1b2c3d4e5f', BOT_ID: '00000000-0000-0000-0000-00000000b07a', BOT_DOMAIN: 'jitbot.example.com' };
const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as JsonSchema;

/** RGBA pixels of a PNG this project wrote (8-bit RGBA, every row filter 0). */
function pixels(png: Buffer): { width: number; height: number; rgba: Buffer } {
  const { width, height, bitDepth, colorType } = readPngHeader(png);
  assert.equal(bitDepth, 8);
  assert.equal(colorType, 6);
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const len = png.readUInt32BE(at);
    if (png.toString('ascii', at + 4, at + 8) === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + len));
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rgba = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * (width * 4 + 1)], 0, 'filter None');
    raw.copy(rgba, y * width * 4, y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1));
  }
  return { width, height, rgba };
}

describe('Teams app manifest and package', () => {
  it('should keep exactly the documented placeholders in the committed manifest', () => {
    assert.deepEqual(placeholdersIn(template), [...PLACEHOLDERS].sort());
    assert.throws(() => fillManifest(template, { BOT_ID: values.BOT_ID }), /set BOT_DOMAIN, TEAMS_APP_ID/);
    assert.deepEqual(valuesFromEnv({ MicrosoftAppId: values.BOT_ID, BOT_DOMAIN: 'https://jitbot.example.com/api/messages' }), {
      TEAMS_APP_ID: values.BOT_ID,
      BOT_ID: values.BOT_ID,
      BOT_DOMAIN: 'jitbot.example.com',
    });
  });

  it('should conform to the vendored (subset) v1.19 schema once filled', () => {
    const manifest = fillManifest(template, values);
    assert.deepEqual(checkManifest(manifest), []);
    assert.equal((manifest as { manifestVersion: string }).manifestVersion, '1.19');
    const bot = (manifest as { bots: Array<{ botId: string; scopes: string[] }> }).bots[0];
    assert.equal(bot.botId, values.BOT_ID);
    assert.deepEqual(bot.scopes, ['personal', 'team', 'groupChat']);
    assert.equal((manifest as { accentColor: string }).accentColor.toLowerCase(), `#${[ACCENT.r, ACCENT.g, ACCENT.b].map((c) => c.toString(16).padStart(2, '0')).join('')}`);
  });

  it('should have a validator that actually rejects what the real schema rejects', () => {
    const good = fillManifest(template, values) as any;
    const bad = (change: (m: any) => void): string[] => {
      const m = structuredClone(good);
      change(m);
      return validateJson(m, schema);
    };
    assert.match(bad((m) => (m.id = 'not-a-guid')).join(), /\$\.id: does not match/);
    assert.match(bad((m) => (m.name.short = 'x'.repeat(31))).join(), /\$\.name\.short: longer than 30/);
    assert.match(bad((m) => (m.bots[0].scopes = ['groupchat'])).join(), /is not one of/);
    assert.match(bad((m) => (m.bots[0].commandLists[0].commands[0].title = 'y'.repeat(33))).join(), /longer than 32/);
    assert.match(bad((m) => m.bots[0].commandLists[0].commands.push(...m.bots[0].commandLists[0].commands)).join(), /more than 10 items/);
    assert.match(bad((m) => (m.developer.privacyUrl = 'ftp://x')).join(), /does not match/);
    assert.match(bad((m) => (m.staticTabs = [])).join(), /unexpected property "staticTabs"/);
    assert.match(bad((m) => delete m.icons).join(), /missing required "icons"/);
    assert.match(bad((m) => (m.version = '1.0')).join(), /\$\.version: does not match/);
  });

  it('should ship a 192×192 opaque colour icon and a 32×32 white-on-transparent outline icon, as the script draws them', () => {
    const color = readFileSync(path.join(TEAMS_DIR, 'color.png'));
    const outline = readFileSync(path.join(TEAMS_DIR, 'outline.png'));
    assert.ok(color.equals(drawColorIcon()), 'color.png is what scripts/draw-teams-icons.ts draws');
    assert.ok(outline.equals(drawOutlineIcon()), 'outline.png is what scripts/draw-teams-icons.ts draws');

    const c = pixels(color);
    assert.deepEqual([c.width, c.height], [192, 192]);
    for (let i = 3; i < c.rgba.length; i += 4) assert.equal(c.rgba[i], 255);
    assert.deepEqual([...c.rgba.subarray(0, 3)], [ACCENT.r, ACCENT.g, ACCENT.b], 'accent background');
    const centre = (115 * 192 + 77) * 4;
    assert.deepEqual([...c.rgba.subarray(centre, centre + 3)], [255, 255, 255], 'white symbol in the middle');

    const o = pixels(outline);
    assert.deepEqual([o.width, o.height], [32, 32]);
    let opaque = 0;
    let clear = 0;
    for (let i = 0; i < o.rgba.length; i += 4) {
      assert.deepEqual([o.rgba[i], o.rgba[i + 1], o.rgba[i + 2]], [255, 255, 255], 'only white');
      if (o.rgba[i + 3] === 255) opaque++;
      if (o.rgba[i + 3] === 0) clear++;
    }
    assert.ok(opaque > 100 && clear > 300, `a symbol on transparency (${opaque} opaque, ${clear} clear)`);
  });

  it('should package a flat, reproducible zip with the manifest and both icons at its root', () => {
    const zip = buildPackage(values);
    assert.ok(zip.equals(buildPackage(values)), 'same inputs, same bytes');
    const entries = readZip(zip);
    assert.deepEqual(entries.map((e) => e.name), ['manifest.json', 'color.png', 'outline.png']);
    const manifest = JSON.parse(entries[0].data.toString('utf8'));
    assert.equal(manifest.id, values.TEAMS_APP_ID);
    assert.deepEqual(checkManifest(manifest), []);
    assert.ok(entries[1].data.equals(readFileSync(path.join(TEAMS_DIR, 'color.png'))));
    assert.equal(readPngHeader(entries[2].data).width, 32);
    assert.equal(buildPackage(values, '1.2.3').length > 0, true);
    assert.throws(() => buildPackage(values, '1.2'), /does not conform/);
  });
});
