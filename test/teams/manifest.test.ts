import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import { ACCENT, drawColorIcon, drawOutlineIcon } from '../../scripts/draw-teams-icons';
import { readPngHeader } from '../../scripts/lib/png';
import { shippedManifestVersions, teamsManifestProblems, teamsSchemaFile } from '../../scripts/lib/teams-schema';
import { readZip } from '../../scripts/lib/zip';
import { PLACEHOLDERS, TEAMS_DIR, buildPackage, checkManifest, fillManifest, placeholdersIn, valuesFromEnv } from '../../scripts/package-teams';

const template = readFileSync(path.join(TEAMS_DIR, 'manifest.json'), 'utf8');
const values = { TEAMS_APP_ID: '8c1d6a7e-3f2b-4c5d-9e8f-0a1b2c3d4e5f', BOT_ID: '00000000-0000-0000-0000-00000000b07a', BOT_DOMAIN: 'jitbot.example.com' };

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

  it('should use the newest manifestVersion that @microsoft/app-manifest ships, and name its schema', () => {
    const newest = shippedManifestVersions().at(-1)!;
    assert.match(newest, /^1\.\d+$/);
    assert.ok(shippedManifestVersions().includes('1.19'), 'the package holds the older versions too');
    const manifest = JSON.parse(template) as { manifestVersion: string; $schema: string };
    assert.equal(manifest.manifestVersion, newest);
    assert.equal(manifest.$schema, `https://developer.microsoft.com/json-schemas/teams/v${newest}/MicrosoftTeams.schema.json`);
    const official = JSON.parse(readFileSync(teamsSchemaFile(newest), 'utf8')) as { $schema: string; properties: { manifestVersion: { const?: string } } };
    assert.equal(official.$schema, 'http://json-schema.org/draft-04/schema#');
    assert.equal(official.properties.manifestVersion.const, newest, 'the schema file is the one for this version');
  });

  it('should conform to Microsoft\'s official schema once filled', () => {
    const manifest = fillManifest(template, values);
    assert.deepEqual(teamsManifestProblems(manifest), []);
    assert.deepEqual(checkManifest(manifest), []);
    const bot = (manifest as { bots: Array<{ botId: string; scopes: string[] }> }).bots[0];
    assert.equal(bot.botId, values.BOT_ID);
    assert.deepEqual(bot.scopes, ['personal', 'team', 'groupChat']);
    assert.equal((manifest as { accentColor: string }).accentColor.toLowerCase(), `#${[ACCENT.r, ACCENT.g, ACCENT.b].map((c) => c.toString(16).padStart(2, '0')).join('')}`);
  });

  it('should reject what Microsoft\'s schema rejects, starting with the packageName the old manifest carried', () => {
    const good = fillManifest(template, values) as any;
    const bad = (change: (m: any) => void): string => {
      const m = structuredClone(good);
      change(m);
      return teamsManifestProblems(m).join('\n');
    };
    assert.match(bad((m) => (m.packageName = 'dev.jitbot.teams')), /^\/: must NOT have additional properties "packageName"$/);
    assert.match(bad((m) => (m.id = 'not-a-guid')), /^\/id: must match pattern/);
    assert.match(bad((m) => (m.name.short = 'x'.repeat(31))), /^\/name\/short: must NOT have more than 30 characters/);
    assert.match(bad((m) => (m.bots[0].scopes = ['groupchat'])), /^\/bots\/0\/scopes\/0: must be equal to one of the allowed values/);
    assert.match(bad((m) => (m.bots[0].commandLists[0].commands[0].title = 'y'.repeat(129))), /commands\/0\/title: must NOT have more than 128 characters/);
    assert.match(bad((m) => m.bots[0].commandLists[0].commands.push(...m.bots[0].commandLists[0].commands)), /commandLists\/0\/commands: must NOT have more than 12 items/);
    assert.match(bad((m) => (m.developer.privacyUrl = 'ftp://x')), /^\/developer\/privacyUrl: /);
    assert.match(bad((m) => delete m.icons), /^\/: must have required property 'icons'/);
    assert.match(bad((m) => (m.permissions = ['identity', 'camera'])), /^\/permissions\/1: must be equal to one of the allowed values/);
    // A manifest claiming another version is checked against that version's schema, not the newest.
    assert.match(bad((m) => (m.manifestVersion = '1.99')), /1\.99 has no schema in @microsoft\/app-manifest/);
    assert.deepEqual(teamsManifestProblems({ ...good, manifestVersion: '1.19' }), [], 'the manifest is also valid v1.19');
    assert.match(bad((m) => ((m.manifestVersion = '1.19'), (m.bots[0].scopes = ['personal', 'copilot']))), /^\/bots\/0\/scopes\/1: must be equal to one of the allowed values/);
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
    assert.deepEqual(teamsManifestProblems(manifest), [], 'the packaged manifest passes the official schema');
    assert.ok(entries[1].data.equals(readFileSync(path.join(TEAMS_DIR, 'color.png'))));
    assert.equal(readPngHeader(entries[2].data).width, 32);
    assert.equal(JSON.parse(readZip(buildPackage(values, { version: '1.2.3' }))[0].data.toString('utf8')).version, '1.2.3');
    assert.throws(() => buildPackage(values, { version: '1.2' }), /does not conform:\n {2}\/version: "1\.2" is not MAJOR\.MINOR\.PATCH/);
  });

  it('should refuse to package a manifest that breaks the official schema', () => {
    const broken = template.replace('"manifestVersion"', '"packageName": "dev.jitbot.teams",\n  "manifestVersion"');
    assert.throws(() => buildPackage(values, { template: broken }), /does not conform:\n {2}\/: must NOT have additional properties "packageName"$/);
    const tooLong = template.replace('"short": "jitbot"', `"short": "${'j'.repeat(31)}"`);
    assert.throws(() => buildPackage(values, { template: tooLong }), /\/name\/short: must NOT have more than 30 characters/);
  });
});
