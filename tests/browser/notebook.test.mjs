// The notebook tour, executed and rendered by nbconvert (ctest Notebook.AttentionTour), in headless
// Chromium: its cells' outputs are there (numbers, the heatmap picture, the alignment table, no
// error), and the attention viewer that Result._repr_html_ put inline — attention.html inside an
// iframe's srcdoc — runs its script there and draws the head view and the matrix view of the
// translation's maps, with no console error.
//
//   node --test-reporter=spec tests/browser/notebook.test.mjs path/to/attention-tour.html
//
// The page around the cells loads MathJax and require.js from the system (nbconvert's template);
// they are not what is tested, so any request but the page itself is answered empty.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  launchBrowser, openWatchedPage, assertNoErrors, pick, count, mapsOf, expectedLinks,
  queryTokens, keyTokens, screenshot,
} from './lib.mjs';

const KINDS = ['encoder_self', 'decoder_self', 'cross'];

function notebookHtml() {
  const file = process.argv[2] || process.env.ATTNSCOPE_NOTEBOOK_HTML;
  if (!file) throw new Error('give the rendered notebook (attention-tour.html) as the first argument');
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist (run ctest -R Notebook first)`);
  return path.resolve(file);
}

describe('the notebook tour rendered by nbconvert', { timeout: 100_000 }, () => {
  let browser;
  let page;
  let watch;
  let frame;
  let data;

  before(async () => {
    const url = pathToFileURL(notebookHtml()).href;
    browser = await launchBrowser();
    ({ page, watch } = await openWatchedPage(browser));
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u === url || u.startsWith('data:') || u.startsWith('about:')) return route.continue();
      return route.fulfill({ status: 200, contentType: 'application/javascript', body: '' });
    });
    await page.goto(url);
    const handle = await page.waitForSelector('iframe.attnscope-viewer');
    frame = await handle.contentFrame();
    await frame.waitForSelector('svg.headview');
    data = JSON.parse(await frame.textContent('#attnscope-data'));
  });

  after(async () => {
    if (browser) await browser.close();
  });

  it('holds every cell\'s output and no error', async () => {
    assert.equal(await count(page, '[data-mime-type="application/vnd.jupyter.stderr"]'), 0, 'no stderr output');
    const outputs = (await page.$$eval('.jp-OutputArea-output', (os) => os.map((o) => o.textContent))).join('\n');
    assert.doesNotMatch(outputs, /Traceback|Error\b/);
    const text = await page.textContent('body');
    assert.match(text, /NumPy's weights equal the engine's: True/);
    assert.match(text, /exactly 0: True/);
    assert.match(text, /equal to the weights: True/);
    assert.match(text, /per_head = weights × value norms: True/);
    assert.ok(await count(page, 'img[src^="data:image/png"]') >= 1, 'the heatmap picture');
    assert.equal(await count(page, 'table.attnscope-alignment'), 1);
    assert.equal(await count(page, 'iframe.attnscope-viewer'), 1);
    const sandbox = await page.getAttribute('iframe.attnscope-viewer', 'sandbox');
    assert.equal(sandbox, 'allow-scripts');
  });

  it('runs the viewer inside the iframe: the head view of the translation', async () => {
    assert.equal(await frame.isVisible('#app'), true);
    assert.equal(await frame.isVisible('#fatal'), false);
    assert.equal(await frame.textContent('#tgt-text'), data.translation);
    const box = await (await page.$('iframe.attnscope-viewer')).boundingBox();
    assert.ok(box.width > 600 && box.height > 400, `the frame is ${box.width}×${box.height}`);
    const toks = (side) => frame.$$eval(`svg.headview g.tok.${side}`, (gs) => gs.map((g) => g.querySelector('text').textContent));
    assert.deepEqual(await toks('q'), data.target_tokens);
    assert.deepEqual(await toks('k'), data.source_tokens);
    const got = await frame.$$eval('svg.headview line.link', (ls) => {
      const c = {};
      for (const l of ls) c[l.dataset.h] = (c[l.dataset.h] || 0) + 1;
      return c;
    });
    assert.deepEqual(got, expectedLinks(mapsOf(data, 'cross', 0, 'all')));
    await screenshot(page, 'notebook-viewer');
    assertNoErrors(watch, 'after loading the notebook');
  });

  it('answers the pickers for every kind and layer, and draws the matrix view', async () => {
    for (const kind of KINDS) {
      await pick(frame, 'kind-picker', kind);
      for (let l = 0; l < data.weights[kind].length; ++l) {
        await pick(frame, 'layer-picker', String(l));
        assert.equal(await count(frame, 'svg.headview g.tok.q'), queryTokens(data, kind).length);
        assert.equal(await count(frame, 'svg.headview g.tok.k'), keyTokens(data, kind).length);
      }
    }
    await pick(frame, 'view-picker', 'matrix');
    await frame.waitForSelector('svg.matrix.multiples');
    // The last kind picked: cross, every head of the last layer and their mean, one cell per weight.
    const H = data.weights.cross[0].length;
    assert.equal(await count(frame, 'svg.matrix.multiples g.panel'), H + 1);
    const cells = data.target_tokens.length * data.source_tokens.length;
    assert.equal(await count(frame, 'svg.matrix.multiples g.panel[data-head="0"] rect.cell'), cells);
    await screenshot(page, 'notebook-matrix');
    assertNoErrors(watch, 'after the pickers');
  });
});
