// The page of `attnscope serve` in headless Chromium: start the server on a free port, read its
// URL, type a sentence, translate, see the translation and the drawing; empty and oversized
// input show a message and the server stays up; no console errors; the server stops cleanly
// on SIGTERM.
//
//   node --test-reporter=spec tests/browser/serve.test.mjs path/to/attnscope
//   (or ATTNSCOPE_BINARY=path/to/attnscope); ctest -R Browser runs it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  MODEL, binaryPath, launchBrowser, openWatchedPage, assertNoErrors, expectConsoleError, pick, count,
  expectedLinks, mapsOf, screenshot,
} from './lib.mjs';

const MAX_CHARS = 1000;  // attnscope serve's default --max-chars

// Starts `attnscope serve --port 0` and resolves with {proc, url, log()} once it printed its URL.
function startServer(bin) {
  const proc = spawn(bin, ['serve', '--model', MODEL, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS || '1' },
  });
  // Never left behind, even when the test run dies.
  const killOnExit = () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); };
  process.on('exit', killOnExit);
  let out = '';
  let err = '';
  const log = () => `--- stdout\n${out}--- stderr\n${err}`;
  proc.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`attnscope serve printed no URL in 30 s\n${log()}`)), 30_000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/attnscope serve: (http:\/\/\S+\/)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`attnscope serve exited (code ${code}, signal ${signal}) before printing its URL\n${log()}`));
    });
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  return { proc, url, exited, log, stderr: () => err };
}

async function postTranslate(url, body) {
  const res = await fetch(new URL('api/translate', url), {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('attnscope serve in the browser', { timeout: 100_000 }, () => {
  let server;
  let url;
  let browser;
  let page;
  let watch;
  let translateCalls = 0;

  // Types a sentence, picks a beam, presses Translate and returns the payload the server answered.
  async function translate(text, beam) {
    await page.fill('#live-text', text);
    await page.selectOption('#live-beam', String(beam));
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/translate') && r.request().method() === 'POST', { timeout: 30_000 }),
      page.click('#live-go'),
    ]);
    assert.equal(res.status(), 200, await res.text());
    const payload = await res.json();
    await page.waitForFunction(() => /^Translated in \d+ ms · beam \d+$/.test(document.getElementById('live-status').textContent));
    return payload;
  }

  before(async () => {
    server = startServer(binaryPath());
    url = await server.url;
    browser = await launchBrowser();
    ({ page, watch } = await openWatchedPage(browser));
    page.on('request', (r) => { if (r.url().endsWith('/api/translate')) ++translateCalls; });
    await page.goto(url);
  });

  after(async () => {
    if (browser) await browser.close();
    if (server && server.proc.exitCode === null && server.proc.signalCode === null) server.proc.kill('SIGKILL');
  });

  it('prints a loopback URL and answers /api/health', async () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await fetch(new URL('api/health', url));
    assert.equal(res.status, 200);
    const h = await res.json();
    assert.equal(h.status, 'ok');
    assert.equal(h.max_chars, MAX_CHARS);
  });

  it('shows the input form and no drawing before the first sentence', async () => {
    assert.equal(await page.isVisible('#live'), true);
    assert.equal(await page.isVisible('#empty'), true);
    assert.equal(await page.isVisible('#app'), false);
    assert.equal(await page.isVisible('#fatal'), false);
    assert.equal(await page.getAttribute('#live-text', 'maxlength'), String(MAX_CHARS));
    const beams = await page.$$eval('#live-beam option', (os) => os.map((o) => o.value));
    assert.deepEqual(beams, ['1', '2', '3', '4', '5', '6', '7', '8']);
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'live-text');
    assertNoErrors(watch, 'on the empty page');
  });

  it('translates a typed sentence and draws its attention', async () => {
    await page.click('#live-text');
    await page.keyboard.type('25 de dezembro de 1969');
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/translate'), { timeout: 30_000 }),
      page.keyboard.press('Enter'),  // the form submits on Enter
    ]);
    assert.equal(res.status(), 200);
    const data = await res.json();
    assert.deepEqual(JSON.parse(res.request().postData()), { text: '25 de dezembro de 1969', beam: 1 });
    await page.waitForSelector('#app', { state: 'visible' });
    await page.waitForSelector('svg.headview');
    assert.match(await page.textContent('#live-status'), /^Translated in \d+ ms · beam 1$/);
    assert.equal(await page.isVisible('#empty'), false);
    assert.equal(data.translation, '1969-12-25');
    assert.equal(await page.textContent('#src-text'), '25 de dezembro de 1969');
    assert.equal(await page.textContent('#tgt-text'), '1969-12-25');
    assert.equal(await count(page, 'svg.headview g.tok.q'), data.target_tokens.length);
    assert.equal(await count(page, 'svg.headview g.tok.k'), data.source_tokens.length);
    const want = expectedLinks(mapsOf(data, 'cross', 0, 'all'));
    assert.equal(await count(page, 'svg.headview line.link'), Object.values(want).reduce((a, b) => a + b));
    await screenshot(page, 'serve-headview');

    // Hover and the pickers work on the live page too.
    await page.hover('svg.headview g.tok.q[data-i="2"]');
    assert.equal(await page.$eval('svg.headview', (s) => s.classList.contains('focusing')), true);
    await page.mouse.move(2, 2);
    await pick(page, 'kind-picker', 'decoder_self');
    await pick(page, 'view-picker', 'matrix');
    await pick(page, 'head-picker', '0');
    const n = data.target_tokens.length;
    assert.equal(await count(page, 'svg.matrix rect.cell'), n * n);
    assert.equal(await count(page, 'svg.matrix rect.cell.masked'), (n * (n - 1)) / 2);
    await screenshot(page, 'serve-matrix');
    assertNoErrors(watch, 'after the first translation');
  });

  it('translates the next sentence with beam search and redraws', async () => {
    const data = await translate('12 de outubro de 1993', 4);
    assert.equal(await page.textContent('#src-text'), '12 de outubro de 1993');
    assert.equal(await page.textContent('#tgt-text'), data.translation);
    assert.ok(data.translation.length > 0);
    assert.match(await page.textContent('#live-status'), /beam 4$/);
    // The selection (decoder self, matrix, head 0) stays; the drawing follows the new tokens.
    const n = data.target_tokens.length;
    assert.equal(await count(page, 'svg.matrix rect.cell'), n * n);
    assert.equal(await count(page, 'svg.matrix rect.cell.masked'), (n * (n - 1)) / 2);
    await pick(page, 'view-picker', 'head');
    await pick(page, 'kind-picker', 'cross');
    assert.equal(await count(page, 'svg.headview g.tok.k'), data.source_tokens.length);
    assertNoErrors(watch, 'after the second translation');
  });

  it('empty and oversized input show a message and send nothing', async () => {
    const before = translateCalls;
    const tgt = await page.textContent('#tgt-text');
    await page.fill('#live-text', '   ');
    await page.click('#live-go');
    await page.waitForFunction(() => document.getElementById('live-status').classList.contains('error'));
    assert.equal(await page.textContent('#live-status'), 'Type a sentence first.');

    // Typing stops at maxlength; a longer value set by script is refused before it is sent.
    await page.fill('#live-text', '');
    await page.click('#live-text');
    await page.keyboard.insertText('9'.repeat(MAX_CHARS + 20));
    assert.ok((await page.inputValue('#live-text')).length <= MAX_CHARS, 'the input holds at most max_chars');
    await page.$eval('#live-text', (e, n) => { e.value = '1 de maio de 2000 '.repeat(n); }, Math.ceil((MAX_CHARS + 1) / 18));
    await page.click('#live-go');
    await page.waitForFunction(() => /at most \d+/.test(document.getElementById('live-status').textContent));
    assert.match(await page.textContent('#live-status'), new RegExp(`the server accepts at most ${MAX_CHARS}`));
    assert.equal(await page.$eval('#live-status', (e) => e.classList.contains('error')), true);
    assert.equal(translateCalls, before, 'nothing was sent');
    assert.equal(await page.textContent('#tgt-text'), tgt, 'the last drawing stays');
    assert.equal(await page.isVisible('#app'), true);
    assertNoErrors(watch, 'after empty and oversized input');
  });

  it('the server rejects what the page does not stop, shows why, and stays up', async () => {
    // Straight to the API: oversized text, an empty sentence, a body over the size limit, bad JSON.
    const big = await postTranslate(url, { text: 'x'.repeat(MAX_CHARS + 1), beam: 1 });
    assert.equal(big.status, 400);
    assert.match(big.body.error, new RegExp(`has ${MAX_CHARS + 1} characters; this server accepts at most ${MAX_CHARS}`));
    const empty = await postTranslate(url, { text: '  ', beam: 1 });
    assert.equal(empty.status, 400);
    assert.match(empty.body.error, /"text" is empty/);
    const huge = await postTranslate(url, { text: 'x'.repeat(40 * 1024) });
    assert.equal(huge.status, 413);
    assert.match(huge.body.error, /larger than \d+ bytes/);
    const junk = await postTranslate(url, '{"text": ');
    assert.equal(junk.status, 400);
    assert.match(junk.body.error, /malformed JSON/);

    // Through the page: a beam the server refuses; its message is shown. Chromium logs the
    // 400 response itself as a console error: that one is expected.
    await page.$eval('#live-beam', (s) => { const o = document.createElement('option'); o.value = '99'; o.textContent = '99'; s.appendChild(o); });
    await page.fill('#live-text', '25 de dezembro de 1969');
    await page.selectOption('#live-beam', '99');
    expectConsoleError(watch, /status of 400/);
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/translate'), { timeout: 30_000 }),
      page.click('#live-go'),
    ]);
    assert.equal(res.status(), 400);
    await page.waitForFunction(() => document.getElementById('live-status').classList.contains('error'));
    assert.equal(await page.textContent('#live-status'), '"beam" is 99; it must be an integer from 1 to 8');
    assert.equal(await page.isEnabled('#live-go'), true, 'the button is enabled again');
    await page.$eval('#live-beam option[value="99"]', (o) => o.remove());

    // Still up: health answers and the page translates again.
    assert.equal(server.proc.exitCode, null);
    assert.equal((await fetch(new URL('api/health', url))).status, 200);
    const data = await translate('25 de dezembro de 1969', 2);
    assert.equal(data.translation, '1969-12-25');
    assert.equal(await page.textContent('#tgt-text'), '1969-12-25');
    assert.equal(await page.$eval('#live-status', (e) => e.classList.contains('error')), false);
    assertNoErrors(watch, 'after the rejected requests');
    assert.deepEqual(watch.expected, [], 'the expected console error came');
  });

  it('logged no console error and asked only its own server', () => {
    assertNoErrors(watch, 'over the whole run');
    const origin = new URL(url).origin;
    const other = watch.requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:'));
    assert.deepEqual(other, [], 'requests to anything but the server');
  });

  it('stops cleanly on SIGTERM', async () => {
    await browser.close();
    browser = null;
    server.proc.kill('SIGTERM');
    const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 15_000));
    const result = await Promise.race([server.exited, timeout]);
    assert.notEqual(result, 'timeout', `attnscope serve did not stop within 15 s of SIGTERM\n${server.log()}`);
    assert.deepEqual(result, { code: 0, signal: null }, server.log());
    assert.match(server.stderr(), /attnscope serve: stopping/);
    assert.match(server.stderr(), /POST \/api\/translate 200/);
  });
});
