// attnscope attention viewer: draws an attention.json payload
//   {source, translation, source_tokens, target_tokens,
//    weights: {encoder_self, decoder_self, cross}[layer][head][query][key]}
// as a head view (queries left, keys right, lines weighted by attention) and as heatmaps.
// Vanilla JS and SVG; everything it needs is in this page.
(() => {
  'use strict';

  // The SVG namespace, taken from the parser so that the page holds no URL at all.
  const SVG_NS = (() => {
    const probe = document.createElement('div');
    probe.innerHTML = '<svg></svg>';
    return probe.firstChild.namespaceURI;
  })();

  const KINDS = {
    encoder_self: {
      label: 'Encoder self', long: 'Encoder self-attention', q: 'src', k: 'src', causal: false,
      qName: 'source tokens', kName: 'source tokens',
      what: 'each source token (a query, left) builds its new vector from every source token (the keys, right).',
    },
    decoder_self: {
      label: 'Decoder self', long: 'Decoder self-attention', q: 'tgt', k: 'tgt', causal: true,
      qName: 'decoder steps', kName: 'target tokens so far',
      what: 'each decoder step (left) looks back at the target tokens fed so far (right). Later positions are masked: a step may not see the future.',
    },
    cross: {
      label: 'Cross', long: 'Cross-attention', q: 'tgt', k: 'src', causal: false,
      qName: 'decoder steps', kName: 'source tokens',
      what: 'each decoder step (left) reads the encoder’s output for the source tokens (right). This is where word alignment shows.',
    },
    // Attribution (attnscope attribute): not attention weights but each input token’s share of
    // the gradient-based attribution of the token a step predicts. Shown only when present.
    attribution_source: {
      label: 'Attribution · source', long: 'Attribution to the source', q: 'tgt', k: 'src', causal: false, optional: true,
      qName: 'decoder steps', kName: 'source tokens',
      what: 'each decoder step (left) and the share of its predicted token’s attribution that each source token (right) carries: what moved the output, not where a head looked.',
    },
    attribution_target: {
      label: 'Attribution · target', long: 'Attribution to the target prefix', q: 'tgt', k: 'tgt', causal: true, optional: true,
      qName: 'decoder steps', kName: 'target tokens so far',
      what: 'each decoder step (left) and the share of its predicted token’s attribution that each earlier target token (right) carries; with the source shares a row sums to 1.',
    },
  };
  const KIND_ORDER = ['encoder_self', 'decoder_self', 'cross', 'attribution_source', 'attribution_target'];
  const HEAD_COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#b07aa1', '#edc948', '#76b7b2',
    '#ff9da7', '#9c755f', '#7f7f7f'];
  const MEAN_COLOR = '#4338ca';
  const RAMP = [[248, 250, 253], [206, 222, 240], [130, 170, 214], [58, 102, 176], [31, 42, 112], [18, 16, 64]];
  const FONT = 'ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif';
  const MIN_LINK = 0.004;  // lines fainter than this are not drawn (invisible anyway)

  const $ = (id) => document.getElementById(id);

  function html(tag, attrs, parent, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function svg(tag, attrs, parent, text) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  const clamp = (x, lo, hi) => Math.max(lo, Math.min(hi, x));
  const fmt = (w) => w.toFixed(3);
  const fmt2 = (w) => (w >= 0.995 ? '1.0' : w.toFixed(2).replace(/^0/, ''));

  function headColor(h) {
    return h < HEAD_COLORS.length ? HEAD_COLORS[h] : `hsl(${Math.round((h * 137.5) % 360)}, 60%, 45%)`;
  }

  function ramp(w) {
    const x = clamp(w, 0, 1) * (RAMP.length - 1);
    const i = Math.min(RAMP.length - 2, Math.floor(x));
    const f = x - i;
    const c = RAMP[i].map((v, j) => Math.round(v + f * (RAMP[i + 1][j] - v)));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  const measure = document.createElement('canvas').getContext('2d');
  function textWidth(str, px, weight) {
    measure.font = `${weight || 400} ${px}px ${FONT}`;
    return measure.measureText(str).width;
  }

  const SPECIAL = /^<\/?[a-z]+>$/;
  // A token as SVG text: SentencePiece's word-start mark "▁" is drawn faint, special tokens
  // (<s>, </s>, <unk>, <pad>) in italics.
  function tokenText(parent, tok, attrs) {
    const t = svg('text', attrs, parent);
    if (SPECIAL.test(tok)) {
      svg('tspan', { class: 'special' }, t, tok);
      return t;
    }
    let buf = '';
    const flush = () => {
      if (buf) svg('tspan', {}, t, buf);
      buf = '';
    };
    for (const ch of tok) {
      if (ch === '\u2581') {
        flush();
        svg('tspan', { class: 'ws' }, t, ch);
      } else {
        buf += ch;
      }
    }
    flush();
    return t;
  }

  function readJson(id) {
    const node = $(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  // Checks the payload's shapes and returns {source, translation, src, tgt, weights}.
  function prepare(raw) {
    if (!raw || typeof raw !== 'object') throw new Error('the payload is not a JSON object');
    const src = raw.source_tokens;
    const tgt = raw.target_tokens;
    if (!Array.isArray(src) || !Array.isArray(tgt)) throw new Error('source_tokens and target_tokens must be arrays');
    if (!raw.weights || typeof raw.weights !== 'object') throw new Error('weights is missing');
    const weights = {};
    for (const id of KIND_ORDER) {
      const layers = Array.isArray(raw.weights[id]) ? raw.weights[id] : [];
      const nq = KINDS[id].q === 'src' ? src.length : tgt.length;
      const nk = KINDS[id].k === 'src' ? src.length : tgt.length;
      layers.forEach((layer, l) => {
        if (!Array.isArray(layer) || layer.length === 0) throw new Error(`weights.${id}[${l}] has no heads`);
        layer.forEach((head, h) => {
          const where = `weights.${id}[${l}][${h}]`;
          if (!Array.isArray(head) || head.length !== nq) {
            throw new Error(`${where} has ${Array.isArray(head) ? head.length : 0} rows for ${nq} query tokens`);
          }
          head.forEach((row, q) => {
            if (!Array.isArray(row) || row.length !== nk) {
              throw new Error(`${where}[${q}] has ${Array.isArray(row) ? row.length : 0} weights for ${nk} key tokens`);
            }
          });
        });
      });
      weights[id] = layers;
    }
    return {
      source: typeof raw.source === 'string' ? raw.source : src.join(' '),
      translation: typeof raw.translation === 'string' ? raw.translation : '',
      src: src.map(String),
      tgt: tgt.map(String),
      weights,
    };
  }

  // ------------------------------------------------------------------ state

  const config = readJson('attnscope-config') || { mode: 'static' };
  const state = { data: null, kind: 'cross', layer: 0, head: 'all', view: 'head', pin: null };
  let meanCache = new Map();

  const numLayers = (kind) => state.data.weights[kind].length;
  const numHeads = (kind, layer) => (numLayers(kind) ? state.data.weights[kind][layer].length : 0);
  const tokensOf = (side) => (side === 'src' ? state.data.src : state.data.tgt);

  function meanMap(kind, layer) {
    const key = `${kind}/${layer}`;
    if (!meanCache.has(key)) {
      const heads = state.data.weights[kind][layer];
      const m = heads[0].map((row) => row.map(() => 0));
      for (const w of heads) w.forEach((row, q) => row.forEach((v, k) => { m[q][k] += v / heads.length; }));
      meanCache.set(key, m);
    }
    return meanCache.get(key);
  }

  // The maps on show: one per head ("all"), the mean, or one head.
  function currentMaps() {
    const heads = state.data.weights[state.kind][state.layer];
    if (state.head === 'all') return heads.map((w, h) => ({ name: `head ${h}`, head: h, color: headColor(h), w }));
    if (state.head === 'mean') return [{ name: 'mean of heads', head: 'mean', color: MEAN_COLOR, w: meanMap(state.kind, state.layer) }];
    return [{ name: `head ${state.head}`, head: state.head, color: headColor(state.head), w: heads[state.head] }];
  }

  function isMasked(q, k) {
    const kind = KINDS[state.kind];
    return (kind.causal && k > q) || tokensOf(kind.k)[k] === '<pad>';
  }

  // What a query row is, for tooltips: decoder rows are steps that predict the next token.
  function queryDescription(q) {
    const kind = KINDS[state.kind];
    const toks = tokensOf(kind.q);
    if (kind.q === 'src') return `source token ${q}`;
    if (q + 1 < toks.length) return `step ${q}, predicts “${toks[q + 1]}”`;
    return `step ${q}, the last step`;
  }

  // ------------------------------------------------------------------ pickers

  function segButton(parent, label, value, pressed, opts) {
    const b = html('button', { type: 'button', 'data-value': String(value), 'aria-pressed': String(pressed) }, parent);
    if (opts && opts.color) html('span', { class: 'dot', style: `background:${opts.color}` }, b);
    b.appendChild(document.createTextNode(label));
    if (opts && opts.disabled) b.disabled = true;
    if (opts && opts.title) b.title = opts.title;
    return b;
  }

  function buildPickers() {
    const kp = $('kind-picker');
    kp.replaceChildren();
    for (const id of KIND_ORDER) {
      if (KINDS[id].optional && numLayers(id) === 0) continue;
      segButton(kp, KINDS[id].label, id, id === state.kind, {
        disabled: numLayers(id) === 0,
        title: `${KINDS[id].long}: queries are ${KINDS[id].qName}, keys are ${KINDS[id].kName}`,
      });
    }
    const lp = $('layer-picker');
    lp.replaceChildren();
    for (let l = 0; l < numLayers(state.kind); ++l) segButton(lp, String(l), l, l === state.layer, { title: `layer ${l}` });
    const hp = $('head-picker');
    hp.replaceChildren();
    const H = numHeads(state.kind, state.layer);
    for (let h = 0; h < H; ++h) segButton(hp, String(h), h, h === state.head, { color: headColor(h), title: `head ${h}` });
    segButton(hp, 'all heads', 'all', state.head === 'all', { title: 'every head at once, each in its own colour' });
    segButton(hp, 'mean', 'mean', state.head === 'mean', { title: 'the average of the heads' });
    const vp = $('view-picker');
    vp.replaceChildren();
    segButton(vp, 'Head view', 'head', state.view === 'head', { title: 'tokens in two columns, joined by lines' });
    segButton(vp, 'Matrix', 'matrix', state.view === 'matrix', { title: 'heatmaps: rows are queries, columns keys' });
  }

  function onPicker(id, fn) {
    $(id).addEventListener('click', (e) => {
      const b = e.target.closest('button');
      if (!b || b.disabled) return;
      fn(b.dataset.value);
      state.pin = null;
      render();
    });
  }

  function clampSelection() {
    if (numLayers(state.kind) === 0) state.kind = KIND_ORDER.find((k) => numLayers(k) > 0) || state.kind;
    state.layer = clamp(state.layer, 0, Math.max(0, numLayers(state.kind) - 1));
    if (typeof state.head === 'number' && state.head >= numHeads(state.kind, state.layer)) state.head = 'all';
  }

  // ------------------------------------------------------------------ caption and legend

  function buildCaption() {
    const kind = KINDS[state.kind];
    const c = $('caption');
    c.replaceChildren();
    html('b', {}, c, `${kind.long} · layer ${state.layer} · ${state.head === 'all' ? 'all heads' : state.head === 'mean' ? 'mean of heads' : `head ${state.head}`}`);
    c.appendChild(document.createTextNode(` — ${kind.what} `));
    const path = state.head === 'all' || state.head === 'mean' ? '[*]' : `[${state.head}]`;
    html('code', {}, c, `weights.${state.kind}[${state.layer}]${path}`);
  }

  function legendRowExample(parent) {
    // One query's row: five weights that sum to 1.
    const ws = [0.05, 0.1, 0.6, 0.2, 0.05];
    const s = svg('svg', { width: 262, height: 44, class: 'example-row' }, parent);
    ws.forEach((w, i) => {
      svg('rect', { x: i * 38, y: 4, width: 36, height: 24, rx: 3, fill: ramp(w) }, s);
      svg('text', { x: i * 38 + 18, y: 20, 'text-anchor': 'middle', 'font-size': 11, fill: w > 0.45 ? '#fff' : '#1c2333' }, s, fmt2(w));
    });
    svg('text', { x: 5 * 38 + 6, y: 20, 'font-size': 12, fill: '#4a5468' }, s, 'Σ = 1');
    svg('text', { x: 0, y: 41, 'font-size': 10, fill: '#8a93a6' }, s, 'one query · its weights over 5 keys');
  }

  function legendRamp(parent) {
    const s = svg('svg', { width: 262, height: 34 }, parent);
    const defs = svg('defs', {}, s);
    const g = svg('linearGradient', { id: 'legend-ramp', x1: 0, x2: 1, y1: 0, y2: 0 }, defs);
    for (let i = 0; i <= 10; ++i) svg('stop', { offset: i / 10, 'stop-color': ramp(i / 10) }, g);
    svg('rect', { x: 0, y: 2, width: 250, height: 12, rx: 3, fill: 'url(#legend-ramp)', stroke: '#cfd4df' }, s);
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      svg('text', { x: clamp(v * 250, 6, 244), y: 29, 'text-anchor': 'middle', 'font-size': 10, fill: '#4a5468' }, s, String(v));
    }
  }

  function legendHatch(parent) {
    const s = svg('svg', { width: 22, height: 16 }, parent);
    hatchPattern(s, 'legend-hatch');
    svg('rect', { x: 1, y: 1, width: 20, height: 14, fill: 'url(#legend-hatch)', stroke: '#cfd4df' }, s);
  }

  function legendLines(parent) {
    const s = svg('svg', { width: 262, height: 40 }, parent);
    [0.05, 0.3, 0.9].forEach((w, i) => {
      const x = i * 88;
      svg('line', { x1: x + 4, y1: 8, x2: x + 64, y2: 8, stroke: MEAN_COLOR, 'stroke-width': 1 + 3.5 * w, 'stroke-opacity': Math.max(0.04, w), 'stroke-linecap': 'round' }, s);
      svg('text', { x: x + 34, y: 30, 'text-anchor': 'middle', 'font-size': 10, fill: '#4a5468' }, s, `weight ${w}`);
    });
  }

  function buildLegend() {
    const kind = KINDS[state.kind];
    const L = $('legend');
    L.replaceChildren();
    html('h2', {}, L, 'How to read it');
    html('p', {}, L, 'A row is one query: the token whose new vector is being computed. Its weights over the keys come out of a softmax, so they are ≥ 0 and add up to 1.');
    legendRowExample(L);
    if (state.view === 'head') {
      html('h2', {}, L, 'Head view');
      const ul = html('ul', {}, L);
      html('li', {}, ul, `Left: the queries (${kind.qName}). Right: the keys (${kind.kName}).`);
      html('li', {}, ul, 'Each line is one weight: thicker and darker = more attention.');
      html('li', {}, ul, 'Hover a token to see only its lines and their weights; click it to pin.');
      legendLines(L);
    } else {
      html('h2', {}, L, 'Matrix view');
      const ul = html('ul', {}, L);
      html('li', {}, ul, `Row = query (${kind.qName}), column = key (${kind.kName}); colour = weight.`);
      html('li', {}, ul, state.head === 'all' ? 'One small map per head and their mean. Click a map to enlarge it.' : 'Hover a cell for its exact weight. The right column checks that each row sums to 1.');
      legendRamp(L);
    }
    if (kind.causal || tokensOf(kind.k).includes('<pad>')) {
      const row = html('p', { class: 'keys' }, L);
      const sp = html('span', {}, row);
      legendHatch(sp);
      sp.appendChild(document.createTextNode('masked'));
      html('p', { class: 'hint' }, L, kind.causal
        ? 'Masked cells are not zero weights the model learned: the look-ahead mask sets their scores to −∞ before the softmax, so a step never sees the tokens after it.'
        : 'Padding keys are masked: they get −∞ before the softmax.');
    }
    if (kind.q === 'tgt') {
      html('h2', {}, L, 'Decoder steps');
      html('p', {}, L, 'The left tokens are what the decoder was fed: its start token (<s>; <pad> for an OPUS-MT model), then its own outputs. Row t is the step that had read them up to t and predicted the token of row t+1.');
    }
    if (state.head === 'all') {
      html('h2', {}, L, 'Heads');
      const keys = html('p', { class: 'keys' }, L);
      for (let h = 0; h < numHeads(state.kind, state.layer); ++h) {
        const sp = html('span', {}, keys);
        html('span', { class: 'dot', style: `background:${headColor(h)}` }, sp);
        sp.appendChild(document.createTextNode(`head ${h}`));
      }
      html('p', { class: 'hint' }, L, 'Each head has its own Q, K and V projections, so each learns its own pattern.');
    }
  }

  // ------------------------------------------------------------------ tooltip

  const tip = $('tooltip');
  function showTip(evt, parts) {
    tip.replaceChildren();
    for (const p of parts) {
      if (p === '\n') html('br', {}, tip);
      else if (typeof p === 'string') tip.appendChild(document.createTextNode(p));
      else html('span', { class: p.cls }, tip, p.text);
    }
    tip.hidden = false;
    const pad = 14;
    const r = tip.getBoundingClientRect();
    let x = evt.clientX + pad;
    let y = evt.clientY + pad;
    if (x + r.width > window.innerWidth - 4) x = evt.clientX - r.width - pad;
    if (y + r.height > window.innerHeight - 4) y = evt.clientY - r.height - pad;
    tip.style.left = `${Math.max(4, x)}px`;
    tip.style.top = `${Math.max(4, y)}px`;
  }
  const hideTip = () => { tip.hidden = true; };

  function cellTip(evt, q, k, w, headName) {
    const kind = KINDS[state.kind];
    const qt = tokensOf(kind.q)[q];
    const kt = tokensOf(kind.k)[k];
    const head = headName ? [{ cls: 'tt-dim', text: `${headName} · ` }] : [];
    if (isMasked(q, k)) {
      showTip(evt, [...head, { cls: 'tt-tok', text: qt }, ' → ', { cls: 'tt-tok', text: kt }, ': ', { cls: 'tt-val', text: 'masked' }, '\n',
        { cls: 'tt-dim', text: kt === '<pad>' ? 'a padding key' : `key ${k} comes after query ${q}: removed before the softmax` }]);
    } else {
      showTip(evt, [...head, { cls: 'tt-tok', text: qt }, ' → ', { cls: 'tt-tok', text: kt }, ': ', { cls: 'tt-val', text: fmt(w) }, '\n',
        { cls: 'tt-dim', text: `query: ${queryDescription(q)} · key ${k}` }]);
    }
  }

  // ------------------------------------------------------------------ head view

  function drawHeadView(stage) {
    const kind = KINDS[state.kind];
    const qs = tokensOf(kind.q);
    const ks = tokensOf(kind.k);
    const maps = currentMaps();
    const ROW = 26;
    const TOP = 52;
    const VAL = 84;
    const PADX = 8;
    const labelW = (toks) => Math.max(40, ...toks.map((t) => textWidth(t, 14, 700))) + 20;
    const qW = labelW(qs);
    const kW = labelW(ks);
    const avail = Math.max(stage.clientWidth, 560);
    const gap = clamp(avail - 2 * (PADX + VAL) - qW - kW - 4, 150, 420);
    const width = Math.round(2 * (PADX + VAL) + qW + kW + gap);
    const n = Math.max(qs.length, ks.length);
    const height = TOP + n * ROW + 12;
    // The shorter column is centred against the longer one.
    const offQ = ((n - qs.length) * ROW) / 2;
    const offK = ((n - ks.length) * ROW) / 2;
    const yQ = (i) => TOP + offQ + i * ROW + ROW / 2;
    const yK = (j) => TOP + offK + j * ROW + ROW / 2;
    const xQ = PADX + VAL + qW;  // right edge of the query labels
    const xK = xQ + gap;  // left edge of the key labels

    const root = svg('svg', { class: 'headview', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
      'aria-label': `${kind.long}, layer ${state.layer}: lines from queries to keys` }, stage);
    svg('text', { class: 'colhead', x: xQ - 10, y: 18, 'text-anchor': 'end' }, root, 'queries');
    svg('text', { class: 'colsub', x: xQ - 10, y: 34, 'text-anchor': 'end' }, root, kind.qName);
    svg('text', { class: 'colhead', x: xK + 10, y: 18 }, root, 'keys');
    svg('text', { class: 'colsub', x: xK + 10, y: 34 }, root, kind.kName);

    const links = svg('g', { class: 'links' }, root);
    const byQ = qs.map(() => []);
    const byK = ks.map(() => []);
    for (const m of maps) {
      m.w.forEach((row, q) => row.forEach((w, k) => {
        if (!(w >= MIN_LINK)) return;
        const line = svg('line', {
          class: 'link', x1: xQ + 2, y1: yQ(q), x2: xK - 2, y2: yK(k), stroke: m.color,
          'stroke-width': (1 + 3.5 * w).toFixed(2), 'stroke-opacity': Math.min(1, w).toFixed(3),
          'data-q': q, 'data-k': k, 'data-h': m.head,
        }, links);
        byQ[q].push(line);
        byK[k].push(line);
      }));
    }

    const mkTok = (side, toks, i, y) => {
      const g = svg('g', { class: `tok ${side}`, 'data-i': i, transform: `translate(0 ${y})` }, root);
      const isQ = side === 'q';
      svg('rect', { class: 'tokbg', x: isQ ? xQ - qW : xK, y: -ROW / 2 + 2, width: isQ ? qW : kW, height: ROW - 4, rx: 6 }, g);
      tokenText(g, toks[i], { x: isQ ? xQ - 10 : xK + 10, y: 5, 'text-anchor': isQ ? 'end' : 'start' });
      const val = svg('g', { class: 'val' }, g);
      return { g, val };
    };
    const qTok = qs.map((_, i) => mkTok('q', qs, i, yQ(i)));
    const kTok = ks.map((_, j) => mkTok('k', ks, j, yK(j)));
    const note = svg('text', { class: 'pinned-note', x: width / 2, y: 18, 'text-anchor': 'middle' }, root, '');

    // Weight bars beside the tokens of the other side: number + bar for one map, a bar per head for all.
    const BAR = 46;
    function showValues(items, side, values) {  // values[m][i]
      items.forEach((it, i) => {
        it.val.replaceChildren();
        const masked = side === 'k' ? values.masked[i] : false;
        it.g.classList.toggle('masked', masked);
        const barX0 = side === 'q' ? xQ - qW - 6 : xK + kW + 6;  // bars grow away from the label
        const dir = side === 'q' ? -1 : 1;
        if (masked) {
          svg('text', { class: 'maskword', x: barX0 + dir * 4, y: 4, 'text-anchor': side === 'q' ? 'end' : 'start' }, it.val, 'masked');
          return;
        }
        const M = values.w.length;
        const bh = M === 1 ? 8 : Math.max(2, (ROW - 8) / M);
        values.w.forEach((vals, m) => {
          const w = vals[i];
          const len = Math.max(1, w * BAR);
          const y = M === 1 ? -4 : -(ROW - 8) / 2 + m * bh;
          svg('rect', { x: dir > 0 ? barX0 : barX0 - len, y, width: len, height: Math.max(1.5, bh - (M === 1 ? 0 : 0.5)), rx: 1, fill: values.colors[m] }, it.val);
        });
        if (M === 1) {
          const tx = barX0 + dir * (BAR + 4);
          svg('text', { x: tx, y: 4, 'text-anchor': side === 'q' ? 'end' : 'start' }, it.val, fmt2(values.w[0][i]));
        }
      });
    }

    let lit = [];
    function clearFocus() {
      root.classList.remove('focusing');
      for (const l of lit) l.classList.remove('on');
      lit = [];
      for (const it of [...qTok, ...kTok]) {
        it.g.classList.remove('active', 'masked');
        it.val.replaceChildren();
      }
      note.textContent = '';
    }
    function focus(side, i) {
      clearFocus();
      root.classList.add('focusing');
      lit = side === 'q' ? byQ[i] : byK[i];
      for (const l of lit) l.classList.add('on');
      (side === 'q' ? qTok : kTok)[i].g.classList.add('active');
      const colors = maps.map((m) => m.color);
      if (side === 'q') {
        const w = maps.map((m) => m.w[i]);
        showValues(kTok, 'k', { w, colors, masked: ks.map((_, k) => isMasked(i, k)) });
      } else {
        const w = maps.map((m) => m.w.map((row) => row[i]));
        showValues(qTok, 'q', { w, colors, masked: [] });
        if (kind.causal) qTok.forEach((it, q) => { if (isMasked(q, i)) { it.val.replaceChildren(); it.g.classList.add('masked'); } });
      }
      if (state.pin) note.textContent = 'pinned — click the token again (or the background) to release';
    }

    root.addEventListener('mouseover', (e) => {
      if (state.pin) return;
      const g = e.target.closest('.tok');
      if (g) focus(g.classList.contains('q') ? 'q' : 'k', Number(g.dataset.i));
    });
    root.addEventListener('mouseleave', () => { if (!state.pin) clearFocus(); });
    root.addEventListener('click', (e) => {
      const g = e.target.closest('.tok');
      if (!g) {
        state.pin = null;
        clearFocus();
        return;
      }
      const side = g.classList.contains('q') ? 'q' : 'k';
      const i = Number(g.dataset.i);
      if (state.pin && state.pin.side === side && state.pin.i === i) {
        state.pin = null;
        focus(side, i);
        note.textContent = '';
      } else {
        state.pin = { side, i };
        focus(side, i);
      }
    });
    if (state.pin) focus(state.pin.side, state.pin.i);
  }

  // ------------------------------------------------------------------ matrix view

  let hatchCount = 0;
  function hatchPattern(root, id) {
    const defs = svg('defs', {}, root);
    const p = svg('pattern', { id, width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' }, defs);
    svg('rect', { width: 6, height: 6, fill: '#eef0f4' }, p);
    svg('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#b9bfcc', 'stroke-width': 2 }, p);
    return `url(#${id})`;
  }

  function drawCells(g, m, x0, y0, cell, opts) {
    const gap = cell >= 8 ? 1 : 0;
    m.w.forEach((row, q) => row.forEach((w, k) => {
      const masked = isMasked(q, k);
      svg('rect', {
        class: masked ? 'cell masked' : 'cell', x: x0 + k * cell, y: y0 + q * cell, width: cell - gap, height: cell - gap,
        fill: masked ? opts.hatch : ramp(w), 'data-q': q, 'data-k': k,
      }, g);
      if (opts.values && !masked) {
        svg('text', { class: 'cellval', x: x0 + k * cell + (cell - gap) / 2, y: y0 + q * cell + cell / 2 + 3.5, 'text-anchor': 'middle',
          fill: w > 0.42 ? '#fff' : '#3b4357' }, g, fmt2(w));
      }
    }));
  }

  function drawBigMatrix(stage, m) {
    const kind = KINDS[state.kind];
    const qs = tokensOf(kind.q);
    const ks = tokensOf(kind.k);
    const qW = Math.max(...qs.map((t) => textWidth(t, 12, 700))) + 16;
    const kLen = Math.max(...ks.map((t) => textWidth(t, 12, 700)));
    const ANG = 55;
    const sin = Math.sin((ANG * Math.PI) / 180);
    const cos = Math.cos((ANG * Math.PI) / 180);
    const SUMW = 64;
    const avail = Math.max(stage.clientWidth, 480);
    const cell = clamp(Math.floor((avail - qW - SUMW - 40 - kLen * cos * 0.5) / ks.length), 12, 40);
    const x0 = 26 + qW;
    const y0 = 34 + kLen * sin + 10;
    const width = Math.ceil(Math.max(x0 + ks.length * cell + SUMW, x0 + (ks.length - 0.5) * cell + kLen * cos + 8));
    const height = Math.ceil(y0 + qs.length * cell + 12);
    const root = svg('svg', { class: 'matrix', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
      'aria-label': `${kind.long}, layer ${state.layer}, ${m.name}: heatmap of queries by keys` }, stage);
    const hatch = hatchPattern(root, `hatch-${++hatchCount}`);

    svg('text', { class: 'axis-title', x: x0, y: 14 }, root, `keys → ${kind.kName}`);
    svg('text', { class: 'axis-title', x: 12, y: y0 + (qs.length * cell) / 2, 'text-anchor': 'middle',
      transform: `rotate(-90 12 ${y0 + (qs.length * cell) / 2})` }, root, `queries ↓ ${kind.qName}`);

    const kLabs = ks.map((t, k) => {
      const x = x0 + k * cell + cell / 2;
      const y = y0 - 6;
      const lab = tokenText(root, t, { class: 'lab', x, y, transform: `rotate(-${ANG} ${x} ${y})` });
      if (kind.k === 'src' && t === '<pad>') lab.classList.add('maskedkey');
      return lab;
    });
    const qLabs = qs.map((t, q) => tokenText(root, t, { class: 'lab', x: x0 - 8, y: y0 + q * cell + cell / 2 + 4, 'text-anchor': 'end' }));

    const g = svg('g', { class: 'cells' }, root);
    drawCells(g, m, x0, y0, cell, { hatch, values: cell >= 30 });
    svg('rect', { class: 'frame', x: x0 - 0.5, y: y0 - 0.5, width: ks.length * cell, height: qs.length * cell }, root);

    // Row sums: each query's weights add up to 1 (the softmax).
    svg('text', { class: 'rowsum', x: x0 + ks.length * cell + 10, y: y0 - 6 }, root, 'row Σ');
    m.w.forEach((row, q) => {
      const sum = row.reduce((a, b) => a + b, 0);
      svg('text', { class: 'rowsum', x: x0 + ks.length * cell + 10, y: y0 + q * cell + cell / 2 + 4 }, root, sum.toFixed(2));
    });

    // Label the masked triangle where there is room for it.
    if (kind.causal && qs.length >= 4) {
      const tx = x0 + ks.length * cell * 0.7;
      const ty = y0 + qs.length * cell * 0.26;
      const label = 'masked (future)';
      const w = textWidth(label, 12, 400) + 14;
      svg('rect', { class: 'masklabel-bg', x: tx - w / 2, y: ty - 13, width: w, height: 19, rx: 4 }, root);
      svg('text', { class: 'masklabel', x: tx, y: ty + 1, 'text-anchor': 'middle' }, root, label);
    }

    let hl = [];
    g.addEventListener('mousemove', (e) => {
      const c = e.target.closest('.cell');
      for (const l of hl) l.classList.remove('hl');
      hl = [];
      if (!c) return hideTip();
      const q = Number(c.dataset.q);
      const k = Number(c.dataset.k);
      hl = [qLabs[q], kLabs[k]];
      for (const l of hl) l.classList.add('hl');
      cellTip(e, q, k, m.w[q][k], state.head === 'mean' ? 'mean of heads' : '');
    });
    g.addEventListener('mouseleave', () => {
      for (const l of hl) l.classList.remove('hl');
      hl = [];
      hideTip();
    });
  }

  function drawSmallMultiples(stage) {
    const kind = KINDS[state.kind];
    const nq = tokensOf(kind.q).length;
    const nk = tokensOf(kind.k).length;
    const maps = currentMaps();
    maps.push({ name: 'mean', head: 'mean', color: MEAN_COLOR, w: meanMap(state.kind, state.layer) });
    const avail = Math.max(stage.clientWidth, 320);
    const GAP = 26;
    const TITLE = 24;
    const target = clamp(Math.floor((avail - GAP) / Math.min(maps.length, 3)) - GAP, 120, 260);
    const cell = clamp(Math.floor(target / Math.max(nq, nk)), 3, 18);
    const pw = nk * cell;
    const ph = nq * cell;
    const cols = Math.max(1, Math.min(maps.length, Math.floor((avail + GAP) / (pw + GAP))));
    const rows = Math.ceil(maps.length / cols);
    const width = cols * (pw + GAP);
    const height = rows * (ph + TITLE + GAP);
    const root = svg('svg', { class: 'matrix multiples', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
      'aria-label': `${kind.long}, layer ${state.layer}: one heatmap per head` }, stage);
    const hatch = hatchPattern(root, `hatch-${++hatchCount}`);
    maps.forEach((m, i) => {
      const x = (i % cols) * (pw + GAP) + 4;
      const y = Math.floor(i / cols) * (ph + TITLE + GAP) + 4;
      const g = svg('g', { class: 'panel', 'data-head': m.head }, root);
      svg('circle', { cx: x + 5, cy: y + 9, r: 5, fill: m.color }, g);
      svg('text', { class: 'ptitle', x: x + 15, y: y + 13 }, g, m.head === 'mean' ? 'mean of heads' : m.name);
      drawCells(g, m, x, y + TITLE, cell, { hatch, values: false });
      svg('rect', { class: 'frame', x: x - 0.5, y: y + TITLE - 0.5, width: pw, height: ph }, g);
      g.addEventListener('mousemove', (e) => {
        const c = e.target.closest('.cell');
        if (!c) return hideTip();
        const q = Number(c.dataset.q);
        const k = Number(c.dataset.k);
        cellTip(e, q, k, m.w[q][k], m.head === 'mean' ? 'mean of heads' : m.name);
      });
      g.addEventListener('mouseleave', hideTip);
      g.addEventListener('click', () => {
        hideTip();
        state.head = m.head === 'mean' ? 'mean' : Number(m.head);
        render();
      });
    });
  }

  // ------------------------------------------------------------------ render

  function drawStage() {
    const stage = $('stage');
    stage.replaceChildren();
    hideTip();
    if (state.view === 'head') drawHeadView(stage);
    else if (state.head === 'all') drawSmallMultiples(stage);
    else drawBigMatrix(stage, currentMaps()[0]);
  }

  function render() {
    if (!state.data) return;
    clampSelection();
    buildPickers();
    buildCaption();
    buildLegend();
    drawStage();
  }

  function show(data) {
    state.data = data;
    meanCache = new Map();
    state.pin = null;
    $('src-text').textContent = data.source;
    $('tgt-text').textContent = data.translation;
    $('pair').hidden = false;
    $('app').hidden = false;
    $('empty').hidden = true;
    $('fatal').hidden = true;
    if (state.layer < 0 || state.layer >= numLayers(state.kind)) state.layer = Math.max(0, numLayers(state.kind) - 1);
    render();
  }

  function fatal(message) {
    const f = $('fatal');
    f.textContent = message;
    f.hidden = false;
    $('app').hidden = true;
  }

  onPicker('kind-picker', (v) => { state.kind = v; });
  onPicker('layer-picker', (v) => { state.layer = Number(v); });
  onPicker('head-picker', (v) => { state.head = v === 'all' || v === 'mean' ? v : Number(v); });
  onPicker('view-picker', (v) => { state.view = v; });

  let resizeTimer = 0;
  let lastWidth = window.innerWidth;
  window.addEventListener('resize', () => {
    if (window.innerWidth === lastWidth) return;
    lastWidth = window.innerWidth;
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (state.data) drawStage(); }, 150);
  });

  // ------------------------------------------------------------------ live mode (attnscope serve)

  function setupLive() {
    const form = $('live');
    const input = $('live-text');
    const beam = $('live-beam');
    const go = $('live-go');
    const status = $('live-status');
    const maxChars = Number(config.max_chars) || 1000;
    const maxBeam = Number(config.max_beam) || 8;
    form.hidden = false;
    $('pair').hidden = true;
    $('empty').hidden = false;
    input.maxLength = maxChars;
    for (let b = 1; b <= maxBeam; ++b) html('option', { value: String(b) }, beam, b === 1 ? '1 (greedy)' : String(b));
    const setStatus = (text, isError) => {
      status.textContent = text;
      status.classList.toggle('error', !!isError);
    };
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return setStatus('Type a sentence first.', true);
      if ([...text].length > maxChars) return setStatus(`That is ${[...text].length} characters; the server accepts at most ${maxChars}.`, true);
      go.disabled = true;
      setStatus('Translating…');
      const t0 = performance.now();
      try {
        const res = await fetch('api/translate', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ text, beam: Number(beam.value) }),
        });
        const body = await res.json().catch(() => null);
        if (!res.ok) {
          setStatus((body && body.error) || `The server answered ${res.status}.`, true);
          return;
        }
        show(prepare(body));
        setStatus(`Translated in ${Math.round(performance.now() - t0)} ms · beam ${beam.value}`);
      } catch (err) {
        setStatus(`Could not reach the server: ${err.message}`, true);
      } finally {
        go.disabled = false;
      }
    });
    input.focus();
  }

  try {
    if (config.mode === 'live') {
      setupLive();
    } else {
      show(prepare(readJson('attnscope-data')));
    }
  } catch (err) {
    fatal(`This attention file cannot be shown: ${err.message}`);
  }
})();
