// Shared helpers of the browser tests: where things are, headless Chromium through
// playwright-core, a watch on the page's console, errors and requests, and small DOM probes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..');
export const MODEL = process.env.ATTNSCOPE_TEST_MODEL || path.join(REPO, 'tests', 'data', 'tiny_dates_model');
export const CHROMIUM = process.env.ATTNSCOPE_CHROMIUM || '/usr/bin/chromium';

// The attnscope binary: the first argument, else $ATTNSCOPE_BINARY.
export function binaryPath() {
  const bin = process.argv[2] || process.env.ATTNSCOPE_BINARY;
  if (!bin) throw new Error('give the attnscope binary as the first argument or as ATTNSCOPE_BINARY');
  if (!fs.existsSync(bin)) throw new Error(`the attnscope binary ${bin} does not exist (build it first)`);
  return path.resolve(bin);
}

export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set ATTNSCOPE_CHROMIUM)`);
  const args = ['--disable-dev-shm-usage', '--disable-gpu'];
  // Chromium's sandbox refuses to run as root (containers, CI).
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--no-sandbox');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 60_000 });
}

// Opens a page that records every console error, uncaught exception, failed request and
// request URL. `allow(text)` marks a console error as expected (see expectConsoleError).
export async function openWatchedPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const watch = { consoleErrors: [], pageErrors: [], failedRequests: [], requests: [], expected: [] };
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'assert') return;
    const text = msg.text();
    const i = watch.expected.findIndex((re) => re.test(text));
    if (i >= 0) watch.expected.splice(i, 1);
    else watch.consoleErrors.push(text);
  });
  page.on('pageerror', (err) => watch.pageErrors.push(String(err && err.stack ? err.stack : err)));
  page.on('request', (req) => watch.requests.push(req.url()));
  page.on('requestfailed', (req) => watch.failedRequests.push(`${req.url()}: ${req.failure() && req.failure().errorText}`));
  return { context, page, watch };
}

// The next console error that matches `re` is expected (once) and not reported.
export function expectConsoleError(watch, re) {
  watch.expected.push(re);
}

export function assertNoErrors(watch, where) {
  assert.deepEqual(watch.pageErrors, [], `uncaught errors in the page ${where}`);
  assert.deepEqual(watch.consoleErrors, [], `console errors ${where}`);
  assert.deepEqual(watch.failedRequests, [], `failed requests ${where}`);
}

// Clicks the button of a picker (#kind-picker, #layer-picker, #head-picker, #view-picker) that
// has this data-value and checks that it is the pressed one afterwards (the pickers are rebuilt
// on each render, so the check looks the button up again).
export async function pick(page, picker, value) {
  const sel = `#${picker} button[data-value="${value}"]`;
  await page.click(sel);
  assert.equal(await page.getAttribute(sel, 'aria-pressed'), 'true', `${sel} is pressed after a click`);
  const pressed = await page.$$eval(`#${picker} button[aria-pressed="true"]`, (bs) => bs.map((b) => b.dataset.value));
  assert.deepEqual(pressed, [String(value)], `only ${value} is pressed in #${picker}`);
}

export async function count(page, selector) {
  return page.locator(selector).count();
}

// The weights one head view or matrix draws, computed the way the viewer does: one map per
// head ('all'), their mean ('mean'), or one head.
export function mapsOf(data, kind, layer, head) {
  const heads = data.weights[kind][layer];
  if (head === 'all') return heads.map((w, h) => ({ head: String(h), w }));
  if (head === 'mean') {
    const m = heads[0].map((row) => row.map(() => 0));
    for (const w of heads) w.forEach((row, q) => row.forEach((v, k) => { m[q][k] += v / heads.length; }));
    return [{ head: 'mean', w: m }];
  }
  return [{ head: String(head), w: heads[head] }];
}

export const MIN_LINK = 0.004;  // the viewer draws no line for a weight below this

// How many lines the head view draws, per head name, for these maps.
export function expectedLinks(maps) {
  const out = {};
  for (const m of maps) out[m.head] = m.w.flat().filter((w) => w >= MIN_LINK).length;
  return out;
}

export function queryTokens(data, kind) {
  return kind === 'encoder_self' ? data.source_tokens : data.target_tokens;
}
export function keyTokens(data, kind) {
  return kind === 'decoder_self' ? data.target_tokens : data.source_tokens;
}

// Waits until every line of the head view that matches `on` has CSS opacity `onOpacity` and every
// other line has `offOpacity` (the lines fade with a short transition), and returns the counts.
export async function waitForLineOpacity(page, onSelector, onOpacity, offOpacity) {
  await page.waitForFunction(([onSel, a, b]) => {
    const lines = [...document.querySelectorAll('svg.headview line.link')];
    if (lines.length === 0) return false;
    return lines.every((l) => {
      const o = Number(getComputedStyle(l).opacity);
      return Math.abs(o - (l.matches(onSel) ? a : b)) < 1e-3;
    });
  }, [onSelector, onOpacity, offOpacity], { timeout: 5_000 });
}

// Writes a screenshot when ATTNSCOPE_BROWSER_SCREENSHOTS names a folder (for looking at by hand).
export async function screenshot(page, name) {
  const dir = process.env.ATTNSCOPE_BROWSER_SCREENSHOTS;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}
