#!/usr/bin/env python3
"""The PyTorch peer of attnscope_cuda_bench (bench/cuda/attention_bench.cc) on the same GPU.

W4: bf16 attention forward at (B, H, N, d) = (8, 16, 1024, 64), (4, 16, 4096, 64),
(2, 16, 8192, 128), causal and not, with scaled_dot_product_attention's flash backend forced
("forward"); the explicit matmul-softmax-matmul path that returns the weights, in bf16 as users
write it ("forward_weights", bf16 weights) and with the softmax in fp32 ("forward_weights_fp32",
fp32 weights like attnscope's); and the two decoder-step shapes (Tq = 1 against a cache). One
JSON object per line with the same fields: median and minimum milliseconds of the timed
iterations (CUDA events around each, after warm-up) and TFLOP/s (4·B·H·N²·d, half of it causal).
Forward and backward is not measured: attnscope's device backward is a later step.

    python3 scripts/bench-pytorch-cuda.py [--iters N] [--warmup N] [--quick]
"""
import argparse
import json
import math
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="only the first shape")
    args = ap.parse_args()
    if not (1 <= args.iters <= 100000 and 1 <= args.warmup <= 100000):
        ap.error("--iters and --warmup must be in [1, 100000]")
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


if __name__ == "__main__":
    sys.exit(main())
