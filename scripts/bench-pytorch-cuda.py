#!/usr/bin/env python3
"""The PyTorch peers of attnscope's GPU benchmarks, on the same GPU (docs/benchmarks.md).

W4, the peer of attnscope_cuda_bench (bench/cuda/attention_bench.cc): bf16 attention forward at (B, H, N, d) = (8, 16, 1024, 64), (4, 16, 4096, 64),
(2, 16, 8192, 128), causal and not, with scaled_dot_product_attention's flash backend forced
("forward"); the explicit matmul-softmax-matmul path that returns the weights, in bf16 as users
write it ("forward_weights", bf16 weights) and with the softmax in fp32 ("forward_weights_fp32",
fp32 weights like attnscope's); and the two decoder-step shapes (Tq = 1 against a cache). One
JSON object per line with the same fields: median and minimum milliseconds of the timed
iterations (CUDA events around each, after warm-up) and TFLOP/s (4·B·H·N²·d, half of it causal).
Forward and backward is not measured: attnscope's device backward is a later step.

W6, the peer of `attnscope bench W6 --device cuda`: beam-4 translation with a KV-cached
Transformer-base twin in plain PyTorch modules, bf16 (see w6_twin below): the same shapes, the
same random-token sentences, batches and output lengths (no early stop), output tokens/s over
all sentences, median of the timed runs.

    python3 scripts/bench-pytorch-cuda.py [W4] [W6] [--iters N] [--warmup N] [--quick]
                                          [--repeat N] [--small] [--device cuda|cpu]
"""
import argparse
import json
import math
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", default=[],
                    help="W4 (attention) and/or W6 (translation); default W4")
    ap.add_argument("--iters", type=int, default=30, help="W4: timed iterations")
    ap.add_argument("--warmup", type=int, default=5, help="W4: warm-up iterations")
    ap.add_argument("--quick", action="store_true", help="W4: only the first shape")
    ap.add_argument("--repeat", type=int, default=3, help="W6: timed runs over all sentences")
    ap.add_argument("--small", action="store_true", help="W6: the tiny shapes of attnscope's "
                    "`bench --small` (a smoke test)")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                    help="W6: cpu runs the twin in fp32 without CUDA (a smoke test only)")
    args = ap.parse_args()
    if not (1 <= args.iters <= 100000 and 1 <= args.warmup <= 100000):
        ap.error("--iters and --warmup must be in [1, 100000]")
    if not 1 <= args.repeat <= 1000:
        ap.error("--repeat must be in [1, 1000]")
    workloads = [w.upper() for w in args.workloads] or ["W4"]
    for w in workloads:
        if w not in ("W4", "W6"):
            ap.error(f"unknown workload {w}: W4 or W6")
    rc = 0
    if "W4" in workloads:
        rc |= run_w4(args)
    if "W6" in workloads:
        rc |= w6_twin(args)
    return rc


def run_w4(args):
    try:
        import torch
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError as e:
        print(f"bench-pytorch-cuda: PyTorch 2.x is needed ({e})", file=sys.stderr)
        return 1
    if not torch.cuda.is_available():
        print("bench-pytorch-cuda: no CUDA device", file=sys.stderr)
        return 1
    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(dev)

    def time_ms(fn):
        for _ in range(args.warmup):
            fn()
        torch.cuda.synchronize()
        ms = []
        for _ in range(args.iters):
            start = torch.cuda.Event(enable_timing=True)
            stop = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            ms.append(start.elapsed_time(stop))
        return ms

    def median(ms):
        s = sorted(ms)
        n = len(s)
        return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])

    def emit(fields, ms, flops, **extra):
        med = median(ms)
        rec = {"workload": "W4", "impl": "pytorch", "torch": torch.__version__, "device": name}
        rec.update(fields)
        rec.update({"ms": round(med, 4), "ms_min": round(min(ms), 4),
                    "tflops": round(flops / (med * 1e-3) / 1e12, 1), "iters": len(ms)})
        rec.update(extra)
        print(json.dumps(rec), flush=True)

    def randn(*shape):  # never zeros; the same spread as attnscope's bench
        return (torch.rand(*shape, device=dev) * 4 - 2).to(torch.bfloat16)

    shapes = [(8, 16, 1024, 64), (4, 16, 4096, 64), (2, 16, 8192, 128)]
    if args.quick:
        shapes = shapes[:1]
    def run_shape(B, H, N, d, causal):  # its tensors are freed when it returns
        q, k, v = randn(B, H, N, d), randn(B, H, N, d), randn(B, H, N, d)
        scale = 1.0 / math.sqrt(d)
        flops = 4.0 * B * H * N * N * d * (0.5 if causal else 1.0)
        fields = {"B": B, "H": H, "N": N, "d": d, "causal": causal}
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
        emit(dict(fields, mode="forward", backend="flash"), ms, flops)
        mask = torch.ones(N, N, dtype=torch.bool, device=dev).triu(1) if causal else None

        def explicit(fp32_softmax):
            s = (q @ k.transpose(-2, -1)) * scale
            if mask is not None:
                s = s.masked_fill(mask, float("-inf"))
            p = torch.softmax(s.float() if fp32_softmax else s, dim=-1)
            out = (p.to(torch.bfloat16) if fp32_softmax else p) @ v
            return out, p

        ms = time_ms(lambda: explicit(False))
        emit(dict(fields, mode="forward_weights", weights="bf16"), ms, flops)
        ms = time_ms(lambda: explicit(True))
        emit(dict(fields, mode="forward_weights_fp32", weights="fp32"), ms, flops)

    for (B, H, N, d) in shapes:
        for causal in (False, True):
            run_shape(B, H, N, d, causal)
            torch.cuda.empty_cache()

    for (B, H, Tk, d) in [(256, 8, 128, 64), (2, 16, 8192, 128)]:
        q, k, v = randn(B, H, 1, d), randn(B, H, Tk, d), randn(B, H, Tk, d)
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v))
        gb = 2.0 * B * H * Tk * d * 2 / 1e9  # K and V read once
        emit({"B": B, "H": H, "N": 1, "Tk": Tk, "d": d, "causal": False, "mode": "decode",
              "backend": "flash", "kv_gb": round(gb, 4),
              "tbps": round(gb / (median(ms) * 1e-3) / 1e3, 2)},
             ms, 4.0 * B * H * Tk * d)
    return 0


# ---- W6: beam-4 translation with a KV-cached Transformer-base twin ----

W6_SIZES = dict(d_model=512, heads=8, layers=6, d_ff=2048, vocab=32000, sentences=256, batch=64,
                beam=4, src_len=32, out_len=32)
# attnscope's `bench --small` shapes (src/app/bench_workloads.cc, Sizes::small).
W6_SMALL = dict(d_model=64, heads=4, layers=1, d_ff=128, vocab=100, sentences=6, batch=4, beam=2,
                src_len=8, out_len=5)
PAD, BOS, EOS = 0, 1, 2


def w6_twin(args):
    """attnscope's W6 model (nn.Transformer's architecture: post-norm, ReLU, separate source and
    target embeddings scaled by √d_model, interleaved sinusoidal positions, final norms, an
    untied generator with bias) as plain modules in bf16, decoding like attnscope: the encoder
    once per batch; per step one position for every row (sentences × beams) against a
    preallocated self-attention K/V cache and the source's cross-attention K/V (computed once,
    copied per beam), the log-softmax in fp32 with pad, bos and eos banned (no early stop), the
    beam's top-k over K·V per sentence on the GPU, the caches reordered by index_select."""
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError as e:
        print(f"bench-pytorch-cuda: PyTorch is needed ({e})", file=sys.stderr)
        return 1
    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench-pytorch-cuda: no CUDA device", file=sys.stderr)
        return 1
    import time
    z = W6_SMALL if args.small else W6_SIZES
    dev = torch.device(args.device)
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    D, H, L, FF, V = z["d_model"], z["heads"], z["layers"], z["d_ff"], z["vocab"]
    dh, K, max_len = D // H, z["beam"], max(256, z["src_len"], z["out_len"] + 1)
    torch.manual_seed(1234)
    sdpa = getattr(F, "scaled_dot_product_attention", None)

    def attend(q, k, v, keep=None):  # q [R, H, Tq, dh], k/v [R, H, Tk, dh], keep [R, 1, 1, Tk]
        if sdpa is not None:
            return sdpa(q, k, v, attn_mask=keep)
        s = (q @ k.transpose(-2, -1)) / math.sqrt(dh)
        if keep is not None:
            s = s.masked_fill(~keep, float("-inf"))
        return torch.softmax(s.float(), dim=-1).to(q.dtype) @ v

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.in_proj = nn.Linear(D, 3 * D)
            self.out_proj = nn.Linear(D, D)

        def heads(self, x):  # [R, T, 3·D] → q, k, v [R, H, T, dh]
            R, T, _ = x.shape
            return self.in_proj(x).view(R, T, 3, H, dh).permute(2, 0, 3, 1, 4)

        def merge(self, a):  # [R, H, T, dh] → [R, T, D]
            R, _, T, _ = a.shape
            return self.out_proj(a.transpose(1, 2).reshape(R, T, D))

    class CrossAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = nn.Linear(D, D)
            self.kv = nn.Linear(D, 2 * D)
            self.out_proj = nn.Linear(D, D)

    class FeedForward(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear1 = nn.Linear(D, FF)
            self.linear2 = nn.Linear(FF, D)

        def forward(self, x):
            return self.linear2(F.relu(self.linear1(x)))

    class EncoderLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.self_attn, self.ffn = SelfAttention(), FeedForward()
            self.norm1, self.norm2 = nn.LayerNorm(D), nn.LayerNorm(D)

        def forward(self, x, keep):
            q, k, v = self.self_attn.heads(x)
            x = self.norm1(x + self.self_attn.merge(attend(q, k, v, keep)))
            return self.norm2(x + self.ffn(x))

    class DecoderLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.self_attn, self.cross, self.ffn = SelfAttention(), CrossAttention(), FeedForward()
            self.norm1, self.norm2, self.norm3 = nn.LayerNorm(D), nn.LayerNorm(D), nn.LayerNorm(D)

        def step(self, x, t, cache_k, cache_v, cross_k, cross_v, keep):  # x [R, 1, D]
            q, k, v = self.self_attn.heads(x)
            cache_k[:, :, t] = k[:, :, 0]
            cache_v[:, :, t] = v[:, :, 0]
            a = attend(q, cache_k[:, :, : t + 1], cache_v[:, :, : t + 1])
            x = self.norm1(x + self.self_attn.merge(a))
            R = x.shape[0]
            q = self.cross.q(x).view(R, 1, H, dh).transpose(1, 2)
            a = attend(q, cross_k, cross_v, keep)
            x = self.norm2(x + self.cross.out_proj(a.transpose(1, 2).reshape(R, 1, D)))
            return self.norm3(x + self.ffn(x))

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_embed, self.tgt_embed = nn.Embedding(V, D), nn.Embedding(V, D)
            self.encoder = nn.ModuleList(EncoderLayer() for _ in range(L))
            self.decoder = nn.ModuleList(DecoderLayer() for _ in range(L))
            self.encoder_norm, self.decoder_norm = nn.LayerNorm(D), nn.LayerNorm(D)
            self.generator = nn.Linear(D, V)
            pos = torch.arange(max_len, dtype=torch.float64)[:, None]
            i = torch.arange(0, D, 2, dtype=torch.float64)
            angle = pos * torch.exp(-math.log(10000.0) * i / D)
            pe = torch.zeros(max_len, D, dtype=torch.float64)
            pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle[:, : D // 2])
            self.register_buffer("pe", pe.float())

        @torch.no_grad()
        def translate(self, src):  # src [B, Ts] → tokens [B, out_len] of the best beam
            B, Ts = src.shape
            R, scale = B * K, math.sqrt(D)
            keep = (src != PAD)[:, None, None, :]
            x = (self.src_embed(src) * scale + self.pe[:Ts].to(dtype))
            for layer in self.encoder:
                x = layer(x, keep)
            memory = self.encoder_norm(x)
            cross = []
            for layer in self.decoder:  # [B, Ts, 2·D] → k, v [R, H, Ts, dh], each sentence K times
                kv = layer.cross.kv(memory).view(B, Ts, 2, H, dh).permute(2, 0, 3, 1, 4)
                cross.append((kv[0].repeat_interleave(K, 0), kv[1].repeat_interleave(K, 0)))
            keep_r = keep.repeat_interleave(K, 0)
            T = z["out_len"]
            cache = [(torch.empty(R, H, T, dh, device=dev, dtype=dtype),
                      torch.empty(R, H, T, dh, device=dev, dtype=dtype)) for _ in range(L)]
            scores = torch.full((B, K), float("-inf"), device=dev)
            scores[:, 0] = 0.0  # one live beam to start
            scores = scores.view(-1)
            tokens = torch.full((R,), BOS, dtype=torch.long, device=dev)
            history = []
            base = (torch.arange(B, device=dev) * K)[:, None]
            for t in range(T):
                x = self.tgt_embed(tokens)[:, None, :] * scale + self.pe[t].to(dtype)
                for layer, (ck, cv), (xk, xv) in zip(self.decoder, cache, cross):
                    x = layer.step(x, t, ck, cv, xk, xv, keep_r)
                logp = F.log_softmax(self.generator(self.decoder_norm(x))[:, 0].float(), dim=-1)
                logp[:, [PAD, BOS, EOS]] = float("-inf")
                top_v, top_i = (scores[:, None] + logp).view(B, K * V).topk(K, dim=-1)
                rows = (base + top_i // V).view(-1)
                scores, tokens = top_v.view(-1), (top_i % V).view(-1)
                history.append((rows, tokens))
                if t + 1 < T:
                    cache = [(ck.index_select(0, rows), cv.index_select(0, rows)) for ck, cv in cache]
            out = torch.empty(R, T, dtype=torch.long, device=dev)  # follow the backpointers
            row = torch.arange(R, device=dev)
            for t in range(T - 1, -1, -1):
                rows, toks = history[t]
                out[:, t] = toks[row]
                row = rows[row]
            return out.view(B, K, T)[:, 0]

    model = Twin().to(dev).to(dtype).eval()
    gen = torch.Generator().manual_seed(1237)
    batches = []
    for done in range(0, z["sentences"], z["batch"]):
        n = min(z["batch"], z["sentences"] - done)
        src = torch.randint(4, V, (n, z["src_len"]), generator=gen)
        src[:, -1] = EOS
        batches.append(src.to(dev))

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    model.translate(batches[0])  # warm-up: kernels, cuBLAS handles, the allocator
    sync()
    runs, tokens = [], 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        tokens = 0
        for src in batches:
            tokens += model.translate(src).numel()
        sync()
        runs.append((time.perf_counter() - t0) * 1e3)
    runs.sort()
    n = len(runs)
    med = runs[n // 2] if n % 2 else 0.5 * (runs[n // 2 - 1] + runs[n // 2])
    expected = z["sentences"] * z["out_len"]
    if tokens != expected:
        print(f"bench-pytorch-cuda W6: {tokens} tokens, expected {expected}", file=sys.stderr)
        return 1
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    rec = {"workload": "W6", "impl": "pytorch", "torch": torch.__version__, "device": name,
           "dtype": str(dtype).replace("torch.", ""),
           "tokens_per_s": round(tokens / (med * 1e-3), 3), "run_ms": round(med, 3),
           "run_min_ms": round(runs[0], 3), "tokens": tokens, "sentences": z["sentences"],
           "src_len": z["src_len"], "out_len": z["out_len"], "batch": z["batch"],
           "beam": K, "d_model": D, "layers": L, "vocab": V, "repeat": n,
           "sdpa": sdpa is not None}
    print(json.dumps(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
