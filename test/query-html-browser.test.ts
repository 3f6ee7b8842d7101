// The lineage HTML page in a real headless browser (Debian's chromium, which
// .ci/run installs): it opens with the network cut off, shows every model
// version with its result count, and renders the picture (the screenshot
// holds the model versions' colours). The screenshot is kept for people to
// look at: $CMF_SAGE_SCREENSHOT_DIR, else the OS temp folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { execFileP, runCli, tempDir } from './helpers.js';
import { workspace } from './query-workspaces.js';

async function findChromium(): Promise<string | undefined> {
  for (const c of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (c && (await fsp.access(c).then(() => true, () => false))) return c;
  }
  const which = await execFileP('sh', ['-c', 'command -v chromium || command -v chromium-browser']).catch(() => undefined);
  return which?.stdout.trim() || undefined;
}

/** Headless chromium with every way to the network closed: a page that needs one shows it. */
async function chromium(bin: string, args: string[]): Promise<string> {
  const profile = await tempDir('chromium-profile-');
  try {
    const { stdout } = await execFileP(
      bin,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
        '--host-resolver-rules=MAP * ~NOTFOUND',
        '--proxy-server=127.0.0.1:9',
        `--user-data-dir=${profile}`,
        ...args,
      ],
      { timeout: 120_000, maxBuffer: 64 << 20 } as never,
    );
    return String(stdout);
  } finally {
    await fsp.rm(profile, { recursive: true, force: true });
  }
}

/** Width, height and every pixel of an 8-bit RGB/RGBA non-interlaced PNG (what chromium writes). */
function decodePng(buf: Buffer): { width: number; height: number; pixel: (x: number, y: number) => [number, number, number] } {
  assert.equal(buf.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG signature');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, '8-bit samples');
      assert.equal(data[12], 0, 'not interlaced');
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      assert.ok(channels, `colour type ${data[9]}`);
    }
    if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i];
      const a = i >= channels ? out[y * stride + i - channels] : 0;
      const b = y > 0 ? out[(y - 1) * stride + i] : 0;
      const c = i >= channels && y > 0 ? out[(y - 1) * stride + i - channels] : 0;
      let v: number;
      if (filter === 0) v = x;
      else if (filter === 1) v = x + a;
      else if (filter === 2) v = x + b;
      else if (filter === 3) v = x + ((a + b) >> 1);
      else {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      out[y * stride + i] = v & 0xff;
    }
  }
  return { width, height, pixel: (x, y) => [out[y * stride + x * channels], out[y * stride + x * channels + 1], out[y * stride + x * channels + 2]] };
}

test('graph --format html: a self-contained page a headless browser renders offline', async (t) => {
  const bin = await findChromium();
  if (!bin) {
    t.skip("chromium not found: install Debian's chromium (apt-get install chromium; .ci/run does) to run the browser check");
    return;
  }
  const w = await workspace();
  const page = path.join(w.root, 'lineage.html');
  const r = await runCli(['graph', '--workspace', w.ws, '--format', 'html', '--out', page]);
  assert.equal(r.code, 0, r.stderr);
  const html = await fsp.readFile(page, 'utf8');
  // nothing fetched: no script, stylesheet, image or font from anywhere
  assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|@font-face|url\(\s*['"]?(https?:|\/\/)/i);
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:|\/\/)/i);

  const dom = await chromium(bin, ['--dump-dom', `file://${page}`]);
  const text = dom.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
  assert.match(text, /Lineage of smoke/);
  assert.match(text, /3 model versions · 3 executions · 9 results · 5 metrics/);
  // every version: its md5 prefix in the picture, its full md5 with its result count in the table
  const expected: [string, number][] = [
    [w.v3, 2],
    [w.v2, 1],
    [w.v1, 6],
  ];
  for (const [md5, results] of expected) {
    assert.ok(text.includes(md5.slice(0, 12)), `md5 prefix ${md5.slice(0, 12)} shown`);
    const row = new RegExp(`<tr class="model" data-md5="${md5}">[\\s\\S]*?<td class="num results" data-results="${results}">${results}</td>`);
    assert.match(dom, row, `${md5} shows ${results} results`);
    assert.match(text, new RegExp(`${md5.slice(0, 12)}( latest| previous)? models/model\\.bin ${results} results?`));
  }

  const shots = process.env.CMF_SAGE_SCREENSHOT_DIR ?? os.tmpdir();
  await fsp.mkdir(shots, { recursive: true });
  const png = path.join(shots, 'cmf-sage-lineage.png');
  await fsp.rm(png, { force: true });
  await chromium(bin, [`--screenshot=${png}`, '--window-size=1280,900', `file://${page}`]);
  const img = decodePng(await fsp.readFile(png));
  t.diagnostic(`screenshot: ${png}`);
  assert.deepEqual([img.width, img.height], [1280, 900]);
  // the three model versions' colours (table swatches, timeline, edges) were painted
  const colours = new Set<string>();
  for (let y = 0; y < img.height; y += 2) for (let x = 0; x < img.width; x += 2) colours.add(img.pixel(x, y).join(','));
  for (const [name, rgb] of [['blue', '78,121,167'], ['orange', '242,142,43'], ['red', '225,87,89']]) {
    assert.ok(colours.has(rgb), `the ${name} model colour (${rgb}) is on screen`);
  }
  assert.ok(colours.size > 50, `a rendered page, not a blank one (${colours.size} colours)`);
});
