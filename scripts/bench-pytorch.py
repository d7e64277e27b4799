#!/usr/bin/python3
"""The PyTorch peer of `attnscope bench`: the CPU workloads W1, W1w, W2, W3 and W3m of
docs/benchmarks.md, printed as the same JSON lines (one object per line and workload,
"impl": "pytorch").

Needs Debian's python3-torch with OpenBLAS (bash scripts/install-pytorch-peer.sh);
run it with /usr/bin/python3. Two threads unless --threads says otherwise. Random weights and
token ids, seeded; warm-up runs, then medians (and minima) of timed repetitions.

  W1   matmul-softmax-matmul (the weights exist anyway), and F.scaled_dot_product_attention
       where this PyTorch has it (2.0 and later): one line per variant ("variant")
  W1w  matmul-softmax-matmul returning the weights, timed alternately with the fastest W1
       forward, and their ratio
  W2   nn.Transformer + two nn.Embedding (·√D, sinusoidal PE, dropout) + generator nn.Linear,
       label-smoothed F.cross_entropy, torch.optim.Adam: one training step
  W3   greedy decoding with nn.Transformer. nn.Transformer has no KV cache: each step runs the
       decoder over the whole prefix again (that is how PyTorch users decode with it)
  W3m  Hugging Face MarianMTModel's eval path written in plain PyTorch (no transformers) with a
       key/value cache, at an OPUS-MT base shape with random weights: greedy (_sample) and beam
       search (the vectorised _beam_search of transformers 4.50+), batched, eos and pad banned
       so every hypothesis has the same length as attnscope's
"""
import argparse
import json
import math
import os
import re
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, BOS, EOS = 0, 1, 2

FULL = dict(B=8, H=8, N=256, d=64, d_model=256, heads=4, layers=3, d_ff=1024, vocab=8000,
            batch=64, src_len=32, tgt_len=32, sentences=256, decode_batch=32, out_len=32)
SMALL = dict(B=1, H=2, N=16, d=8, d_model=32, heads=2, layers=1, d_ff=64, vocab=64,
             batch=4, src_len=8, tgt_len=8, sentences=6, decode_batch=4, out_len=4)
# W3m (src/app/bench_workloads.h: Sizes::m_*): 58101 is opus-mt-ROMANCE-en's vocabulary.
FULL.update(m_d_model=512, m_heads=8, m_layers=6, m_d_ff=2048, m_vocab=58101, m_sentences=64,
            m_src_len=24, m_batch=16, m_out_len=24)
SMALL.update(m_d_model=32, m_heads=2, m_layers=1, m_d_ff=64, m_vocab=101, m_sentences=6,
             m_src_len=8, m_batch=4, m_out_len=4)


def summarise(ms):
    return {"median_ms": statistics.median(ms), "min_ms": min(ms), "repeat": len(ms)}


def time_runs(fn, warmup, repeat):
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return summarise(ms)


def status_mb(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def cpu_isa():
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line
                    break
    except OSError:
        pass
    have = set(flags.split())
    if "avx512f" in have:
        return "AVX-512"
    if "avx2" in have:
        return "AVX2"
    return "SSE4.2" if "sse4_2" in have else "baseline"


def torch_isa():
    """The kernels PyTorch dispatches to ("CPU capability usage" of its build config)."""
    m = re.search(r"CPU capability usage: (\S+)", torch.__config__.show())
    return m.group(1) if m else "unknown"


class Env:
    def __init__(self, threads, small):
        torch.set_num_threads(threads)
        self.fields = {
            "impl": "pytorch",
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "isa": cpu_isa(),
            "build_isa": torch_isa(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        }
        if small:
            self.fields["small"] = True

    def emit(self, obj):
        obj.update(self.fields)
        print(json.dumps(obj), flush=True)


def r3(x):
    return round(x, 3)


# ---------------------------------------------------------------- W1 / W1w: attention kernel

def attention_weights(q, k, v, mask, scale):
    """matmul-softmax-matmul: (out, weights). mask [N, N] True = hidden, or None."""
    s = torch.matmul(q, k.transpose(-2, -1)) * scale
    if mask is not None:
        s = s.masked_fill(mask, float("-inf"))
    p = torch.softmax(s, dim=-1)
    return torch.matmul(p, v), p


def w1_variants(causal, mask, scale):
    variants = {"matmul": lambda q, k, v: attention_weights(q, k, v, mask, scale)[0]}
    if hasattr(F, "scaled_dot_product_attention"):
        variants["sdpa"] = lambda q, k, v: F.scaled_dot_product_attention(q, k, v,
                                                                         is_causal=causal)
    return variants


def w1_problem(s, causal, seed):
    g = torch.Generator().manual_seed(seed)
    shape = (s["B"], s["H"], s["N"], s["d"])
    q, k, v, dout = (torch.rand(shape, generator=g) * 2 - 1 for _ in range(4))
    mask = torch.triu(torch.ones(s["N"], s["N"], dtype=torch.bool), 1) if causal else None
    return q, k, v, dout, mask, 1.0 / math.sqrt(s["d"])


def w1_flops(s, causal):
    f = 4.0 * s["B"] * s["H"] * s["N"] * s["N"] * s["d"]
    return f / 2 if causal else f


def run_w1(env, s, causal, warmup, repeat, seed):
    q, k, v, dout, mask, scale = w1_problem(s, causal, seed)
    flops = w1_flops(s, causal)
    best = None
    for name, fn in w1_variants(causal, mask, scale).items():
        with torch.no_grad():
            fwd = time_runs(lambda: fn(q, k, v), warmup, repeat)
        qg, kg, vg = (t.clone().requires_grad_(True) for t in (q, k, v))

        def fwdbwd():
            out = fn(qg, kg, vg)
            torch.autograd.grad(out, (qg, kg, vg), dout)

        fb = time_runs(fwdbwd, warmup, repeat)
        env.emit({"workload": "W1", "variant": name, "causal": causal, "B": s["B"], "H": s["H"],
                  "N": s["N"], "d": s["d"],
                  "fwd_ms": r3(fwd["median_ms"]), "fwd_min_ms": r3(fwd["min_ms"]),
                  "fwdbwd_ms": r3(fb["median_ms"]), "fwdbwd_min_ms": r3(fb["min_ms"]),
                  "gflops": r3(flops / (fwd["median_ms"] * 1e-3) / 1e9),
                  "fwdbwd_gflops": r3(3.5 * flops / (fb["median_ms"] * 1e-3) / 1e9),
                  "fwd_keeps_weights": name == "matmul", "repeat": fwd["repeat"]})
        if best is None or fwd["median_ms"] < best[1]:
            best = (name, fwd["median_ms"])
    return best[0]


def run_w1w(env, s, causal, warmup, repeat, seed, w1_variant):
    q, k, v, _, mask, scale = w1_problem(s, causal, seed)
    w1 = w1_variants(causal, mask, scale)[w1_variant]
    with torch.no_grad():
        for _ in range(warmup):
            attention_weights(q, k, v, mask, scale)
            w1(q, k, v)
        with_w, without = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            attention_weights(q, k, v, mask, scale)
            t1 = time.perf_counter()
            w1(q, k, v)
            t2 = time.perf_counter()
            with_w.append((t1 - t0) * 1e3)
            without.append((t2 - t1) * 1e3)
    a, b = summarise(with_w), summarise(without)
    env.emit({"workload": "W1w", "causal": causal, "fwd_ms": r3(a["median_ms"]),
              "fwd_min_ms": r3(a["min_ms"]), "w1_fwd_ms": r3(b["median_ms"]),
              "w1_variant": w1_variant, "ratio_to_w1_fwd": r3(a["median_ms"] / b["median_ms"]),
              "repeat": a["repeat"]})


# ---------------------------------------------------------------- W2 / W3: the model

class Seq2Seq(nn.Module):
    """attnscope's Transformer in PyTorch: embeddings ·√D + sinusoidal PE + dropout,
    post-norm ReLU nn.Transformer (with its final norms), an untied generator with bias."""

    def __init__(self, s, dropout=0.1, max_len=256):
        super().__init__()
        D, V = s["d_model"], s["vocab"]
        self.d_model = D
        self.src_embed = nn.Embedding(V, D)
        self.tgt_embed = nn.Embedding(V, D)
        pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
        div = torch.pow(10000.0, torch.arange(0, D, 2, dtype=torch.float64) / D)
        pe = torch.zeros(max_len, D, dtype=torch.float64)
        pe[:, 0::2] = torch.sin(pos / div)
        pe[:, 1::2] = torch.cos(pos / div)
        self.register_buffer("pe", pe.float())
        self.drop = nn.Dropout(dropout)
        self.transformer = nn.Transformer(D, s["heads"], s["layers"], s["layers"], s["d_ff"],
                                          dropout, batch_first=True)
        self.generator = nn.Linear(D, V)
        nn.init.normal_(self.src_embed.weight, 0.0, D ** -0.5)
        nn.init.normal_(self.tgt_embed.weight, 0.0, D ** -0.5)

    def embed(self, table, ids):
        return self.drop(table(ids) * math.sqrt(self.d_model) + self.pe[: ids.shape[1]])

    def encode(self, src):
        return self.transformer.encoder(self.embed(self.src_embed, src))

    def decode(self, tgt_in, memory):
        T = tgt_in.shape[1]
        mask = self.transformer.generate_square_subsequent_mask(T)
        return self.transformer.decoder(self.embed(self.tgt_embed, tgt_in), memory, tgt_mask=mask)

    def forward(self, src, tgt_in):
        return self.generator(self.decode(tgt_in, self.encode(src)))


def random_tokens(g, rows, length, vocab, last=None):
    t = torch.randint(4, vocab, (rows, length), generator=g)
    if last is not None:
        t[:, -1] = last
    return t


def run_w2(env, s, warmup, repeat, seed):
    reset = reset_peak_rss()
    base = status_mb("VmRSS")
    torch.manual_seed(seed)
    model = Seq2Seq(s)
    model.train()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    g = torch.Generator().manual_seed(seed + 1)
    src = random_tokens(g, s["batch"], s["src_len"], s["vocab"], EOS)
    tgt_out = random_tokens(g, s["batch"], s["tgt_len"], s["vocab"], EOS)
    tgt_in = torch.cat([torch.full((s["batch"], 1), BOS), tgt_out[:, :-1]], dim=1)
    V = s["vocab"]
    last = {}

    def step():
        opt.zero_grad()
        logits = model(src, tgt_in)
        loss = F.cross_entropy(logits.reshape(-1, V), tgt_out.reshape(-1), ignore_index=PAD,
                               label_smoothing=0.1)
        loss.backward()
        opt.step()
        last["loss"] = loss.item()

    t = time_runs(step, warmup, repeat)
    tokens = s["batch"] * s["tgt_len"]
    env.emit({"workload": "W2", "tgt_tokens_per_s": r3(tokens / (t["median_ms"] * 1e-3)),
              "step_ms": r3(t["median_ms"]), "step_min_ms": r3(t["min_ms"]),
              "tgt_tokens": tokens, "peak_rss_mb": r3(status_mb("VmHWM")),
              "base_rss_mb": r3(base), "peak_rss_reset": reset, "params": params,
              "loss": r3(last["loss"]), "repeat": t["repeat"]})


def greedy(model, src, out_len):
    """Greedy decoding of out_len tokens, never stopping at eos (as attnscope bench: eos, pad
    and bos are never chosen). No KV cache: every step decodes the whole prefix again."""
    memory = model.encode(src)
    ys = torch.full((src.shape[0], 1), BOS, dtype=torch.long)
    for _ in range(out_len):
        logits = model.generator(model.decode(ys, memory)[:, -1])
        logits[:, [PAD, BOS, EOS]] = float("-inf")
        ys = torch.cat([ys, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return ys[:, 1:]


def run_w3(env, s, warmup, repeat, seed):
    torch.manual_seed(seed)
    model = Seq2Seq(s)
    model.eval()
    g = torch.Generator().manual_seed(seed + 2)
    batches = []
    for done in range(0, s["sentences"], s["decode_batch"]):
        rows = min(s["decode_batch"], s["sentences"] - done)
        batches.append(random_tokens(g, rows, s["src_len"], s["vocab"], EOS))
    count = {}

    def run():
        count["tokens"] = sum(greedy(model, b, s["out_len"]).numel() for b in batches)

    with torch.no_grad():
        for _ in range(warmup):
            greedy(model, batches[0], s["out_len"])
        t = time_runs(run, 0, repeat)
    tokens = count["tokens"]
    assert tokens == s["sentences"] * s["out_len"], tokens
    env.emit({"workload": "W3", "tokens_per_s": r3(tokens / (t["median_ms"] * 1e-3)),
              "run_ms": r3(t["median_ms"]), "run_min_ms": r3(t["min_ms"]), "tokens": tokens,
              "sentences": s["sentences"], "batch": s["decode_batch"], "kv_cache": False,
              "repeat": t["repeat"]})


# ---------------------------------------------------------------- W3m: a Marian model, cached

class MarianPeer(nn.Module):
    """MarianMTModel in eval mode (transformers 4.56, docs/marian-semantics.md), in plain PyTorch:
    one shared table (encoder input, decoder input, tied output) scaled by √D, sinusoid positions
    in halves, post-norm layers with q/k/v/out projections and a SiLU FFN, no final norms,
    logits = y·Eᵀ + final_logits_bias. Incremental decoding keeps, per decoder layer, the
    self-attention K, V of every position fed (preallocated, written in place) and the
    cross-attention K, V of the memory (projected once); beams are reordered by index_select."""

    def __init__(self, s):
        super().__init__()
        D, H, L, F_, V = s["m_d_model"], s["m_heads"], s["m_layers"], s["m_d_ff"], s["m_vocab"]
        self.D, self.H, self.dh, self.V = D, H, D // H, V
        self.shared = nn.Embedding(V, D)
        nn.init.normal_(self.shared.weight, 0.0, D ** -0.5)
        self.final_logits_bias = nn.Parameter(torch.zeros(1, V))
        n_pos = 512
        pos = torch.arange(n_pos, dtype=torch.float64)[:, None]
        j = torch.arange(D, dtype=torch.float64)[None, :]
        angle = pos / torch.pow(10000.0, 2 * torch.div(j, 2, rounding_mode="floor") / D)
        half = (D + 1) // 2
        pe = torch.empty(n_pos, D)
        pe[:, :half] = torch.sin(angle[:, 0::2]).float()
        pe[:, half:] = torch.cos(angle[:, 1::2]).float()
        self.register_buffer("pe", pe)

        def attn():
            return nn.ModuleDict({n: nn.Linear(D, D) for n in ("q", "k", "v", "o")})

        def layer(cross):
            m = nn.ModuleDict({"self_attn": attn(), "ln1": nn.LayerNorm(D),
                               "fc1": nn.Linear(D, F_), "fc2": nn.Linear(F_, D),
                               "ln_ffn": nn.LayerNorm(D)})
            if cross:
                m["cross_attn"] = attn()
                m["ln2"] = nn.LayerNorm(D)
            return m

        self.enc = nn.ModuleList([layer(False) for _ in range(L)])
        self.dec = nn.ModuleList([layer(True) for _ in range(L)])

    def heads(self, x):  # [B, T, D] -> [B, H, T, dh]
        return x.view(x.shape[0], x.shape[1], self.H, self.dh).transpose(1, 2)

    def attend(self, a, q, k, v, mask):
        s = torch.matmul(q, k.transpose(2, 3)) * self.dh ** -0.5
        if mask is not None:
            s = s + mask
        o = torch.matmul(torch.softmax(s, dim=-1), v).transpose(1, 2).reshape(
            q.shape[0], q.shape[2], self.D)
        return a["o"](o)

    def ffn(self, m, x):
        return m["ln_ffn"](x + m["fc2"](F.silu(m["fc1"](x))))

    def embed(self, ids, start):
        return self.shared(ids) * math.sqrt(self.D) + self.pe[start:start + ids.shape[1]]

    def encode(self, src, mask):
        x = self.embed(src, 0)
        for m in self.enc:
            a = m["self_attn"]
            x = m["ln1"](x + self.attend(a, self.heads(a["q"](x)), self.heads(a["k"](x)),
                                         self.heads(a["v"](x)), mask))
            x = self.ffn(m, x)
        return x

    def start(self, memory, mask, rows, max_len):
        """The cache for `rows` decoder rows (memory and mask already expanded to them)."""
        cache = {"t": 0, "mask": mask, "cross": [], "self": []}
        for m in self.dec:
            a = m["cross_attn"]
            cache["cross"].append((self.heads(a["k"](memory)), self.heads(a["v"](memory))))
            cache["self"].append((torch.empty(rows, self.H, max_len, self.dh),
                                  torch.empty(rows, self.H, max_len, self.dh)))
        return cache

    def step(self, tokens, cache):
        t = cache["t"]
        x = self.embed(tokens[:, None], t)
        for m, (ck, cv), (sk, sv) in zip(self.dec, cache["cross"], cache["self"]):
            a = m["self_attn"]
            sk[:, :, t:t + 1] = self.heads(a["k"](x))
            sv[:, :, t:t + 1] = self.heads(a["v"](x))
            x = m["ln1"](x + self.attend(a, self.heads(a["q"](x)), sk[:, :, :t + 1],
                                         sv[:, :, :t + 1], None))
            c = m["cross_attn"]
            x = m["ln2"](x + self.attend(c, self.heads(c["q"](x)), ck, cv, cache["mask"]))
            x = self.ffn(m, x)
        cache["t"] = t + 1
        return F.linear(x[:, 0], self.shared.weight) + self.final_logits_bias

    @staticmethod
    def reorder(cache, index):
        cache["self"] = [(k.index_select(0, index), v.index_select(0, index))
                         for k, v in cache["self"]]
        cache["cross"] = [(k.index_select(0, index), v.index_select(0, index))
                          for k, v in cache["cross"]]
        cache["mask"] = cache["mask"].index_select(0, index)


def key_mask(src, pad):
    """HF's additive [B, 1, 1, Ts] mask: float32 min at padding."""
    m = (src == pad).to(torch.float32)[:, None, None, :]
    return m * torch.finfo(torch.float32).min


def marian_greedy(model, src, max_length, banned, start, pad):
    """_sample without sampling: processors on the raw logits (banned → −∞, then
    LogitNormalization), argmax, max_length − 1 new tokens (no eos can come: it is banned)."""
    mask = key_mask(src, pad)
    cache = model.start(model.encode(src, mask), mask, src.shape[0], max_length)
    ys = torch.full((src.shape[0], 1), start, dtype=torch.long)
    for _ in range(max_length - 1):
        scores = model.step(ys[:, -1], cache)
        scores[:, banned] = float("-inf")
        scores = torch.log_softmax(scores, dim=-1)
        ys = torch.cat([ys, scores.argmax(dim=-1, keepdim=True)], dim=1)
    return ys[:, 1:]


def marian_beam(model, src, nb, max_length, banned, start, pad, eos, lp=1.0):
    """The vectorised _beam_search of transformers 4.50+ (early_stopping False, one eos id):
    log_softmax, processors, renormalisation, the top 2·nb candidates per sentence, the running
    and finished beams with HF's −1e9 bookkeeping, the early-stop heuristic, the cache reordered
    by the chosen beams. Returns the best finished sequence of each sentence."""
    B, V, K = src.shape[0], model.V, 2 * nb
    mask = key_mask(src, pad)
    src_rows = src.repeat_interleave(nb, dim=0)
    mask_rows = mask.repeat_interleave(nb, dim=0)
    memory = model.encode(src, mask).repeat_interleave(nb, dim=0)
    cache = model.start(memory, mask_rows, B * nb, max_length)
    del src_rows
    running = torch.full((B, nb, max_length), pad, dtype=torch.long)
    running[:, :, 0] = start
    running_scores = torch.zeros(B, nb)
    running_scores[:, 1:] = -1e9
    seqs = running.clone()
    scores_fin = torch.full((B, nb), -1e9)
    is_fin = torch.zeros(B, nb, dtype=torch.bool)
    unsatisfied = torch.ones(B, 1, dtype=torch.bool)
    top_mask = torch.cat([torch.ones(nb, dtype=torch.bool), torch.zeros(K - nb, dtype=torch.bool)])
    batch_offset = (torch.arange(B) * nb)[:, None]
    cur_len = 1
    while True:
        logits = model.step(running[:, :, cur_len - 1].reshape(-1), cache)
        logp = torch.log_softmax(logits, dim=-1)
        logp[:, banned] = float("-inf")
        logp = torch.log_softmax(logp, dim=-1)
        acc = (logp.view(B, nb, V) + running_scores[:, :, None]).view(B, nb * V)
        top_scores, top_idx = torch.topk(acc, K, dim=1)
        src_beam = torch.div(top_idx, V, rounding_mode="floor")
        tokens = top_idx % V
        top_seqs = torch.gather(running, 1, src_beam[:, :, None].expand(-1, -1, max_length)).clone()
        top_seqs[:, :, cur_len] = tokens
        hits = (tokens == eos) | (cur_len + 1 >= max_length)
        run = top_scores + hits.float() * -1e9
        nxt = torch.topk(run, nb, dim=1)[1]
        running = torch.gather(top_seqs, 1, nxt[:, :, None].expand(-1, -1, max_length))
        running_scores = torch.gather(run, 1, nxt)
        chosen = torch.gather(src_beam, 1, nxt)
        just = hits & top_mask[None, :]
        cand = top_scores / ((cur_len + 1 - 1) ** lp)
        cand = cand + (~just).float() * -1e9 + (~unsatisfied).float() * -1e9
        merged_scores = torch.cat([scores_fin, cand], dim=1)
        pick = torch.topk(merged_scores, nb, dim=1)[1]
        seqs = torch.gather(torch.cat([seqs, top_seqs], dim=1), 1,
                            pick[:, :, None].expand(-1, -1, max_length))
        scores_fin = torch.gather(merged_scores, 1, pick)
        is_fin = torch.gather(torch.cat([is_fin, just], dim=1), 1, pick)
        model.reorder(cache, (chosen + batch_offset).view(-1))
        cur_len += 1
        best = running_scores[:, :1] / ((cur_len - 1) ** lp)
        worst = torch.where(is_fin, scores_fin.min(dim=1, keepdim=True)[0], torch.tensor(-1e9))
        unsatisfied = unsatisfied & (best > worst).any(dim=1, keepdim=True)
        if not (bool(unsatisfied.any()) and not bool(hits.all())):
            break
    return seqs[:, 0, 1:cur_len]


def run_w3m(env, s, beam, warmup, repeat, seed):
    torch.manual_seed(seed)
    model = MarianPeer(s)
    model.eval()
    V = s["m_vocab"]
    pad = start = V - 1
    eos = 0
    banned = [pad, eos]
    max_length = s["m_out_len"] + 1
    g = torch.Generator().manual_seed(seed + 3)
    batches = []
    for done in range(0, s["m_sentences"], s["m_batch"]):
        rows = min(s["m_batch"], s["m_sentences"] - done)
        batches.append(random_tokens(g, rows, s["m_src_len"], V - 1, eos))

    def decode(b):
        if beam == 1:
            return marian_greedy(model, b, max_length, banned, start, pad)
        return marian_beam(model, b, beam, max_length, banned, start, pad, eos)

    count = {}

    def run():
        count["tokens"] = sum(decode(b).numel() for b in batches)

    with torch.no_grad():
        for _ in range(warmup):
            decode(batches[0])
        t = time_runs(run, 0, repeat)
    tokens = count["tokens"]
    assert tokens == s["m_sentences"] * s["m_out_len"], tokens
    env.emit({"workload": "W3m", "beam": beam,
              "tokens_per_s": r3(tokens / (t["median_ms"] * 1e-3)),
              "run_ms": r3(t["median_ms"]), "run_min_ms": r3(t["min_ms"]), "tokens": tokens,
              "sentences": s["m_sentences"], "batch": s["m_batch"], "vocab": V, "kv_cache": True,
              "repeat": t["repeat"]})


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", help="W1 W1w W2 W3 W3m (default: all)")
    ap.add_argument("--json", action="store_true", help="accepted for symmetry; always JSON")
    ap.add_argument("--repeat", type=int, default=0,
                    help="timed repetitions (default: W1 20, W2 5, W3 and W3m 3 full runs)")
    ap.add_argument("--warmup", type=int, default=0,
                    help="untimed repetitions first (default: W1 3, W2 2, W3 1 batch)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--small", action="store_true", help="tiny shapes (smoke test)")
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    names = {"w1": "W1", "w1w": "W1w", "w2": "W2", "w3": "W3", "w3m": "W3m"}
    wanted = []
    for w in a.workloads or ["W1", "W1w", "W2", "W3", "W3m"]:
        if w.lower() not in names:
            sys.exit(f"bench-pytorch.py: unknown workload {w!r} (W1 W1w W2 W3 W3m)")
        wanted.append(names[w.lower()])
    s = SMALL if a.small else FULL
    env = Env(a.threads, a.small)

    def rep(default):
        return a.repeat if a.repeat > 0 else default

    def warm(default):
        return a.warmup if a.warmup > 0 else default

    w1_best = {}
    if "W1" in wanted:
        for causal in (False, True):
            w1_best[causal] = run_w1(env, s, causal, warm(3), rep(20), a.seed)
    if "W1w" in wanted:
        for causal in (False, True):
            variant = w1_best.get(causal, "sdpa" if hasattr(F, "scaled_dot_product_attention")
                                  else "matmul")
            run_w1w(env, s, causal, warm(3), rep(20), a.seed, variant)
    if "W2" in wanted:
        run_w2(env, s, warm(2), rep(5), a.seed)
    if "W3" in wanted:
        run_w3(env, s, warm(1), rep(3), a.seed)
    if "W3m" in wanted:
        for beam in (1, 4):
            run_w3m(env, s, beam, warm(1), rep(3), a.seed)


if __name__ == "__main__":
    main()
