// attention.html in headless Chromium, opened from file://: it draws the head view and the
// matrix view with the right counts for the tokens, reacts to hover, clicks and the pickers,
// shows the look-ahead mask, logs no console error and asks for nothing but file:// (and data:).
//
//   node --test-reporter=spec tests/browser/attention_html.test.mjs path/to/attnscope
//   (or ATTNSCOPE_BINARY=path/to/attnscope); ctest -R Browser runs it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  MODEL, binaryPath, launchBrowser, openWatchedPage, assertNoErrors, pick, count, mapsOf,
  expectedLinks, queryTokens, keyTokens, waitForLineOpacity, screenshot,
} from './lib.mjs';

const SENTENCE = '25 de dezembro de 1969';
const KINDS = ['encoder_self', 'decoder_self', 'cross'];
const fmt2 = (w) => (w >= 0.995 ? '1.0' : w.toFixed(2).replace(/^0/, ''));

describe('attention.html from file://', { timeout: 100_000 }, () => {
  let dir;
  let data;
  let browser;
  let page;
  let watch;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attnscope-browser-'));
    execFileSync(binaryPath(), ['attention', '--model', MODEL, '--out', dir, '--no-pictures', SENTENCE], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS || '1' },
      timeout: 60_000,
    });
    data = JSON.parse(fs.readFileSync(path.join(dir, 'attention.json'), 'utf8'));
    browser = await launchBrowser();
    ({ page, watch } = await openWatchedPage(browser));
    await page.goto(pathToFileURL(path.join(dir, 'attention.html')).href);
    await page.waitForSelector('svg.headview');
  });

  after(async () => {
    if (browser) await browser.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('has a payload to draw (tiny model, "25 de dezembro de 1969")', () => {
    assert.equal(data.translation, '1969-12-25');
    for (const k of KINDS) {
      assert.ok(data.weights[k].length >= 2, `${k} has at least two layers`);
      assert.ok(data.weights[k][0].length >= 2, `${k} has at least two heads`);
    }
  });

  it('opens with the pair, the pickers and the head view of cross-attention', async () => {
    assert.equal(await page.isVisible('#app'), true);
    assert.equal(await page.isVisible('#fatal'), false);
    assert.equal(await page.isVisible('#live'), false, 'no input form in a static file');
    assert.equal(await page.textContent('#src-text'), SENTENCE);
    assert.equal(await page.textContent('#tgt-text'), '1969-12-25');
    const values = (picker) => page.$$eval(`#${picker} button`, (bs) => bs.map((b) => b.dataset.value));
    assert.deepEqual(await values('kind-picker'), KINDS);
    assert.deepEqual(await values('layer-picker'), data.weights.cross.map((_, l) => String(l)));
    const H = data.weights.cross[0].length;
    assert.deepEqual(await values('head-picker'), [...Array.from({ length: H }, (_, h) => String(h)), 'all', 'mean']);
    assert.deepEqual(await values('view-picker'), ['head', 'matrix']);
    for (const [picker, v] of [['kind-picker', 'cross'], ['layer-picker', '0'], ['head-picker', 'all'], ['view-picker', 'head']]) {
      assert.equal(await page.getAttribute(`#${picker} button[data-value="${v}"]`, 'aria-pressed'), 'true', `${picker} starts at ${v}`);
    }
    assert.match(await page.textContent('#caption'), /Cross-attention · layer 0 · all heads/);
    assert.match(await page.textContent('#caption'), /weights\.cross\[0\]\[\*\]/);

    // One token group per query (target side) and per key (source side), in order.
    const toks = (side) => page.$$eval(`svg.headview g.tok.${side}`, (gs) => gs.map((g) => g.querySelector('text').textContent));
    assert.deepEqual(await toks('q'), data.target_tokens);
    assert.deepEqual(await toks('k'), data.source_tokens);

    // One line per weight ≥ MIN_LINK per head, each drawn with its weight as opacity.
    const want = expectedLinks(mapsOf(data, 'cross', 0, 'all'));
    const lines = await page.$$eval('svg.headview line.link', (ls) => ls.map((l) => ({
      q: Number(l.dataset.q), k: Number(l.dataset.k), h: l.dataset.h, opacity: l.getAttribute('stroke-opacity'),
    })));
    const got = {};
    for (const l of lines) got[l.h] = (got[l.h] || 0) + 1;
    assert.deepEqual(got, want);
    for (const l of lines) {
      assert.equal(l.opacity, Math.min(1, data.weights.cross[0][Number(l.h)][l.q][l.k]).toFixed(3), `line ${JSON.stringify(l)}`);
    }
    await screenshot(page, 'headview-cross');
    assertNoErrors(watch, 'after loading');
  });

  it('hovering a token focuses its lines; clicking pins it', async () => {
    await pick(page, 'kind-picker', 'cross');
    await pick(page, 'head-picker', 'all');
    const H = data.weights.cross[0].length;
    const nk = data.source_tokens.length;
    const q = 4;
    await page.hover(`svg.headview g.tok.q[data-i="${q}"]`);
    assert.equal(await page.$eval('svg.headview', (s) => s.classList.contains('focusing')), true);
    assert.equal(await page.$eval(`svg.headview g.tok.q[data-i="${q}"]`, (g) => g.classList.contains('active')), true);
    const onQ = await page.$$eval('svg.headview line.link.on', (ls) => ls.map((l) => Number(l.dataset.q)));
    assert.ok(onQ.length > 0, 'the hovered token has lines');
    assert.ok(onQ.every((x) => x === q), 'only the hovered query\'s lines are lit');
    assert.equal(onQ.length, await count(page, `svg.headview line.link[data-q="${q}"]`));
    await waitForLineOpacity(page, `[data-q="${q}"]`, 1, 0.05);
    // Each key shows one bar per head with its weight from the hovered query.
    assert.equal(await count(page, 'svg.headview g.tok.k .val rect'), nk * H);
    await screenshot(page, 'headview-hover');

    // Leaving the drawing lets every line back.
    await page.mouse.move(2, 2);
    await waitForLineOpacity(page, 'line', 1, 1);
    assert.equal(await page.$eval('svg.headview', (s) => s.classList.contains('focusing')), false);
    assert.equal(await count(page, 'svg.headview .val > *'), 0);

    // A key token lights the lines that end at it.
    const k = 3;
    await page.hover(`svg.headview g.tok.k[data-i="${k}"]`);
    const onK = await page.$$eval('svg.headview line.link.on', (ls) => ls.map((l) => Number(l.dataset.k)));
    assert.ok(onK.length > 0 && onK.every((x) => x === k));
    await waitForLineOpacity(page, `[data-k="${k}"]`, 1, 0.05);

    // Click pins: the focus stays when the mouse leaves, a second click releases it.
    await page.click(`svg.headview g.tok.q[data-i="2"]`);
    await page.mouse.move(2, 2);
    assert.equal(await page.$eval('svg.headview', (s) => s.classList.contains('focusing')), true);
    assert.match(await page.textContent('svg.headview .pinned-note'), /pinned/);
    await waitForLineOpacity(page, '[data-q="2"]', 1, 0.05);
    await page.click(`svg.headview g.tok.q[data-i="2"]`);
    assert.equal(await page.textContent('svg.headview .pinned-note'), '');
    await page.mouse.move(2, 2);
    assert.equal(await page.$eval('svg.headview', (s) => s.classList.contains('focusing')), false);
    assertNoErrors(watch, 'after hovering');
  });

  it('the head picker draws one head, the mean of the heads, or all heads', async () => {
    await pick(page, 'kind-picker', 'cross');
    await pick(page, 'layer-picker', '0');
    const heads = data.weights.cross[0];
    const linkHeads = () => page.$$eval('svg.headview line.link', (ls) => ls.map((l) => l.dataset.h));
    for (let h = 0; h < heads.length; ++h) {
      await pick(page, 'head-picker', String(h));
      assert.match(await page.textContent('#caption'), new RegExp(`layer 0 · head ${h}`));
      const hs = await linkHeads();
      assert.deepEqual(hs.length, expectedLinks(mapsOf(data, 'cross', 0, h))[String(h)]);
      assert.ok(hs.every((x) => x === String(h)));
      // One head: each key shows its weight as a number.
      await page.hover('svg.headview g.tok.q[data-i="1"]');
      const shown = await page.$$eval('svg.headview g.tok.k .val text', (ts) => ts.map((t) => t.textContent));
      assert.deepEqual(shown, heads[h][1].map(fmt2));
      await page.mouse.move(2, 2);
    }
    await pick(page, 'head-picker', 'mean');
    assert.match(await page.textContent('#caption'), /mean of heads/);
    const mean = mapsOf(data, 'cross', 0, 'mean');
    const hs = await linkHeads();
    assert.equal(hs.length, expectedLinks(mean).mean);
    assert.ok(hs.every((x) => x === 'mean'));
    await page.hover('svg.headview g.tok.q[data-i="1"]');
    assert.deepEqual(await page.$$eval('svg.headview g.tok.k .val text', (ts) => ts.map((t) => t.textContent)), mean[0].w[1].map(fmt2));
    await page.mouse.move(2, 2);
    await pick(page, 'head-picker', 'all');
    assert.deepEqual(await linkHeads().then((x) => x.length), Object.values(expectedLinks(mapsOf(data, 'cross', 0, 'all'))).reduce((a, b) => a + b));
    assertNoErrors(watch, 'after the head picker');
  });

  it('the kind and layer pickers change the tokens and the lines', async () => {
    await pick(page, 'view-picker', 'head');
    await pick(page, 'head-picker', 'all');
    const longName = { encoder_self: 'Encoder self-attention', decoder_self: 'Decoder self-attention', cross: 'Cross-attention' };
    for (const kind of KINDS) {
      await pick(page, 'kind-picker', kind);
      for (let l = 0; l < data.weights[kind].length; ++l) {
        await pick(page, 'layer-picker', String(l));
        assert.match(await page.textContent('#caption'), new RegExp(`${longName[kind]} · layer ${l} · all heads`));
        assert.equal(await count(page, 'svg.headview g.tok.q'), queryTokens(data, kind).length);
        assert.equal(await count(page, 'svg.headview g.tok.k'), keyTokens(data, kind).length);
        const got = await page.$$eval('svg.headview line.link', (ls) => {
          const c = {};
          for (const x of ls) c[x.dataset.h] = (c[x.dataset.h] || 0) + 1;
          return c;
        });
        assert.deepEqual(got, expectedLinks(mapsOf(data, kind, l, 'all')), `${kind} layer ${l}`);
      }
    }
    await pick(page, 'layer-picker', '0');
    assertNoErrors(watch, 'after the kind and layer pickers');
  });

  it('decoder self-attention masks the look-ahead triangle in the head view', async () => {
    await pick(page, 'view-picker', 'head');
    await pick(page, 'kind-picker', 'decoder_self');
    await pick(page, 'head-picker', 'all');
    const n = data.target_tokens.length;
    // The weights above the diagonal are exactly 0, so no line goes to a later token.
    for (const layer of data.weights.decoder_self) {
      for (const head of layer) head.forEach((row, q) => row.forEach((w, k) => { if (k > q) assert.equal(w, 0); }));
    }
    const ahead = await page.$$eval('svg.headview line.link', (ls) => ls.filter((l) => Number(l.dataset.k) > Number(l.dataset.q)).length);
    assert.equal(ahead, 0);
    const q = 3;
    await page.hover(`svg.headview g.tok.q[data-i="${q}"]`);
    const maskedKeys = await page.$$eval('svg.headview g.tok.k.masked', (gs) => gs.map((g) => Number(g.dataset.i)));
    assert.deepEqual(maskedKeys, Array.from({ length: n - 1 - q }, (_, i) => q + 1 + i));
    assert.equal(await count(page, 'svg.headview g.tok.k .maskword'), n - 1 - q);
    assert.equal(await page.textContent('svg.headview g.tok.k.masked .maskword'), 'masked');
    await screenshot(page, 'headview-decoder-masked');
    // From a key, the earlier queries are the masked ones.
    const k = 5;
    await page.hover(`svg.headview g.tok.k[data-i="${k}"]`);
    const maskedQueries = await page.$$eval('svg.headview g.tok.q.masked', (gs) => gs.map((g) => Number(g.dataset.i)));
    assert.deepEqual(maskedQueries, Array.from({ length: k }, (_, i) => i));
    await page.mouse.move(2, 2);
    assert.match(await page.textContent('#legend'), /masked/);
    assert.match(await page.textContent('#legend'), /look-ahead mask/);
    assertNoErrors(watch, 'after the decoder head view');
  });

  it('the matrix view draws one heatmap per head and their mean, masked cells hatched', async () => {
    await pick(page, 'view-picker', 'matrix');
    await pick(page, 'head-picker', 'all');
    for (const kind of ['cross', 'decoder_self', 'encoder_self']) {
      await pick(page, 'kind-picker', kind);
      await pick(page, 'layer-picker', '1');
      assert.equal(await count(page, 'svg.headview'), 0);
      assert.equal(await count(page, 'svg.matrix.multiples'), 1);
      const H = data.weights[kind][1].length;
      const panels = await page.$$eval('svg.matrix.multiples g.panel', (gs) => gs.map((g) => g.dataset.head));
      assert.deepEqual(panels, [...Array.from({ length: H }, (_, h) => String(h)), 'mean']);
      const nq = queryTokens(data, kind).length;
      const nk = keyTokens(data, kind).length;
      for (const p of panels) {
        const cells = await page.$$eval(`svg.matrix.multiples g.panel[data-head="${p}"] rect.cell`, (rs) => rs.map((r) => ({
          q: Number(r.dataset.q), k: Number(r.dataset.k), masked: r.classList.contains('masked'), fill: r.getAttribute('fill'),
        })));
        assert.equal(cells.length, nq * nk, `${kind} panel ${p}: one cell per query and key`);
        for (const c of cells) {
          const shouldMask = kind === 'decoder_self' && c.k > c.q;
          assert.equal(c.masked, shouldMask, `${kind} panel ${p} cell ${c.q},${c.k}`);
          if (shouldMask) assert.match(c.fill, /^url\(#hatch-\d+\)$/);
          else assert.match(c.fill, /^rgb\(\d+,\d+,\d+\)$/);
        }
        if (p !== 'mean') {
          // Darker is more: in each row the darkest cell holds the largest weight.
          const w = data.weights[kind][1][Number(p)];
          const lum = (f) => f.match(/\d+/g).map(Number).reduce((a, b) => a + b);
          for (let q = 0; q < nq; ++q) {
            const row = cells.filter((c) => c.q === q && !c.masked);
            const darkest = row.reduce((a, b) => (lum(b.fill) < lum(a.fill) ? b : a));
            const top = Math.max(...w[q]);
            assert.ok(w[q][darkest.k] >= top - 0.02, `${kind} head ${p} row ${q}: darkest cell ${darkest.k} holds ${w[q][darkest.k]}, max ${top}`);
          }
        }
      }
      if (kind === 'decoder_self') await screenshot(page, 'matrix-multiples-decoder');
    }
    // Clicking a panel enlarges that head.
    await page.click('svg.matrix.multiples g.panel[data-head="1"] rect.cell[data-q="1"][data-k="0"]');
    assert.equal(await page.getAttribute('#head-picker button[data-value="1"]', 'aria-pressed'), 'true');
    assert.equal(await count(page, 'svg.matrix.multiples'), 0);
    assert.equal(await count(page, 'svg.matrix'), 1);
    await pick(page, 'layer-picker', '0');
    assertNoErrors(watch, 'after the small multiples');
  });

  it('the matrix view of one head: cells, row sums, the masked triangle, tooltips', async () => {
    await pick(page, 'view-picker', 'matrix');
    await pick(page, 'kind-picker', 'decoder_self');
    await pick(page, 'layer-picker', '0');
    await pick(page, 'head-picker', '1');
    const n = data.target_tokens.length;
    const w = data.weights.decoder_self[0][1];
    assert.equal(await count(page, 'svg.matrix:not(.multiples)'), 1);
    assert.equal(await count(page, 'svg.matrix rect.cell'), n * n);
    assert.equal(await count(page, 'svg.matrix rect.cell.masked'), (n * (n - 1)) / 2);
    assert.equal(await page.textContent('svg.matrix .masklabel'), 'masked (future)');
    const sums = await page.$$eval('svg.matrix text.rowsum', (ts) => ts.map((t) => t.textContent));
    assert.deepEqual(sums, ['row Σ', ...Array(n).fill('1.00')]);
    const labels = await page.$$eval('svg.matrix text.lab', (ts) => ts.map((t) => t.textContent));
    assert.deepEqual(labels, [...data.target_tokens, ...data.target_tokens]);
    await screenshot(page, 'matrix-decoder-head1');

    // A cell's tooltip gives its tokens and exact weight, and highlights its row and column labels.
    await page.hover('svg.matrix rect.cell[data-q="6"][data-k="2"]');
    await page.waitForSelector('#tooltip', { state: 'visible' });
    const tip = await page.textContent('#tooltip');
    assert.ok(tip.includes(w[6][2].toFixed(3)), `tooltip "${tip}" shows ${w[6][2].toFixed(3)}`);
    assert.ok(tip.includes(data.target_tokens[6]) && tip.includes(data.target_tokens[2]), tip);
    assert.equal(await count(page, 'svg.matrix text.lab.hl'), 2);
    await page.hover('svg.matrix rect.cell[data-q="2"][data-k="7"]');
    assert.match(await page.textContent('#tooltip'), /masked/);
    assert.match(await page.textContent('#tooltip'), /key 7 comes after query 2/);
    await page.mouse.move(2, 2);
    await page.waitForSelector('#tooltip', { state: 'hidden' });
    assert.equal(await count(page, 'svg.matrix text.lab.hl'), 0);

    // The mean of the heads, as one matrix.
    await pick(page, 'head-picker', 'mean');
    const mean = mapsOf(data, 'decoder_self', 0, 'mean')[0].w;
    assert.equal(await count(page, 'svg.matrix rect.cell'), n * n);
    await page.hover('svg.matrix rect.cell[data-q="4"][data-k="4"]');
    const mtip = await page.textContent('#tooltip');
    assert.ok(mtip.includes('mean of heads') && mtip.includes(mean[4][4].toFixed(3)), mtip);
    await page.mouse.move(2, 2);

    // Cross-attention has no masked cell and no mask label.
    await pick(page, 'kind-picker', 'cross');
    assert.equal(await count(page, 'svg.matrix rect.cell'), data.target_tokens.length * data.source_tokens.length);
    assert.equal(await count(page, 'svg.matrix rect.cell.masked'), 0);
    assert.equal(await count(page, 'svg.matrix .masklabel'), 0);
    assertNoErrors(watch, 'after the single matrix');
  });

  it('logged no console error and asked for nothing but file:// and data:', () => {
    assertNoErrors(watch, 'over the whole run');
    assert.ok(watch.requests.length >= 1);
    const other = watch.requests.filter((u) => !u.startsWith('file://') && !u.startsWith('data:'));
    assert.deepEqual(other, [], 'requests other than file:// and data:');
  });

  it('a payload that does not fit shows a message, not a broken page', async () => {
    const html = fs.readFileSync(path.join(dir, 'attention.html'), 'utf8');
    const bad = { ...data, weights: { ...data.weights, cross: [[[[0.5, 0.5]]]] } };
    const re = /(<script type="application\/json" id="attnscope-data">)([\s\S]*?)(<\/script>)/;
    assert.match(html, re);
    const badFile = path.join(dir, 'bad.html');
    fs.writeFileSync(badFile, html.replace(re, (_, a, _b, c) => `${a}${JSON.stringify(bad).replace(/</g, '\\u003c')}${c}`));
    const { context, page: p2, watch: w2 } = await openWatchedPage(browser);
    try {
      await p2.goto(pathToFileURL(badFile).href);
      await p2.waitForSelector('#fatal', { state: 'visible' });
      const msg = await p2.textContent('#fatal');
      assert.match(msg, /cannot be shown/);
      assert.match(msg, /weights\.cross\[0\]\[0\] has 1 rows for \d+ query tokens/);
      assert.equal(await p2.isVisible('#app'), false);
      assertNoErrors(w2, 'on the bad payload');
    } finally {
      await context.close();
    }
  });
});
