#!/usr/bin/env python3
"""Summarises one scripts/gpu-check.sh run: the CUDA test results (GoogleTest XML of the kernel and
the device-model tests), W6 (`attnscope bench W6 --device cuda` against its PyTorch twin) and W4
(attnscope_cuda_bench against PyTorch's SDPA) side by side: same GPU, same call, from
bench-attnscope.jsonl and bench-pytorch.jsonl (scripts/bench-pytorch-cuda.py).

    python3 scripts/gpu-summary.py OUT_DIR
"""
import json
import os
import sys
import xml.etree.ElementTree as ET


def read_jsonl(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return rows


def tests(out):
    lines = []
    for name in ("cuda-tests.xml", "cuda-model-tests.xml"):
        lines += test_file(out, name)
    return lines


def test_file(out, name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return [f"{name}: missing (the test binary did not run to the end, or was not run)"]
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        return [f"{name}: unreadable ({e})"]
    cases = list(root.iter("testcase"))
    failed = [c for c in cases if c.findall("failure") or c.findall("error")]
    skipped = [c for c in cases if c.get("result") == "skipped" or c.findall("skipped")]
    passed = len(cases) - len(failed) - len(skipped)
    lines = [f"{name}: {len(cases)} tests — {passed} passed, {len(failed)} FAILED, "
             f"{len(skipped)} skipped"]
    if skipped:
        first = skipped[0].find("skipped")
        why = (first.get("message") or "").strip().splitlines() if first is not None else []
        lines.append("  skipped because: " + (why[-1] if why else "?")[:160])
    for case in failed[:12]:
        fails = case.findall("failure") + case.findall("error")
        if fails:
            msg = (fails[0].get("message") or "").splitlines()
            lines.append(f"  FAILED {case.get('classname')}.{case.get('name')}: "
                         + " / ".join(m.strip() for m in msg[:3])[:200])
    return lines


def w6(out):
    ours = [r for r in read_jsonl(os.path.join(out, "bench-attnscope.jsonl"))
            if r.get("workload") == "W6"]
    theirs = [r for r in read_jsonl(os.path.join(out, "bench-pytorch.jsonl"))
              if r.get("workload") == "W6"]
    if not ours and not theirs:
        return ["W6: no results"]
    a = ours[0] if ours else None
    t = theirs[0] if theirs else None
    shape = a or t
    lines = [f"W6 beam-{shape['beam']} translation, d_model {shape['d_model']}, "
             f"{shape['layers']}+{shape['layers']} layers, vocabulary {shape['vocab']}, "
             f"{shape['sentences']} sentences × {shape['src_len']} → {shape['out_len']} tokens, "
             f"batch {shape['batch']}"]
    if a:
        lines.append(f"  attnscope {a.get('device', '?')}: {a['tokens_per_s']:.0f} tokens/s "
                     f"(median {a['run_ms']:.1f} ms of {a['repeat']} runs)")
    if t:
        lines.append(f"  PyTorch {t.get('torch', '?')} KV-cached twin, {t.get('dtype', '?')}: "
                     f"{t['tokens_per_s']:.0f} tokens/s (median {t['run_ms']:.1f} ms)")
    if a and t:
        lines.append(f"  attnscope / PyTorch: {a['tokens_per_s'] / t['tokens_per_s']:.2f}×")
    return lines


def key(r):
    return (r.get("B"), r.get("H"), r.get("N"), r.get("Tk"), r.get("d"), r.get("causal"))


def bench(out):
    ours = [r for r in read_jsonl(os.path.join(out, "bench-attnscope.jsonl"))
            if r.get("workload") == "W4"]
    theirs = [r for r in read_jsonl(os.path.join(out, "bench-pytorch.jsonl"))
              if r.get("workload") == "W4"]
    if not ours and not theirs:
        return ["W4: no results"]
    by = {}
    for r in ours + theirs:
        by[(r["impl"], r["mode"]) + key(r)] = r
    dev = (ours or theirs)[0].get("device", "?")
    torch = theirs[0].get("torch", "?") if theirs else "not run"
    lines = [f"W4 on {dev}; PyTorch {torch}. ms = median; x = PyTorch ms / attnscope ms "
             "(> 1: attnscope faster)",
             f"{'B,H,N,d':>16} {'causal':>6} | {'fwd':>8} {'torch':>8} {'x':>5} "
             f"{'TF/s':>5} | {'fwd+W32':>8} {'/fwd':>5} {'W GB/s':>7} | "
             f"{'tW16':>8} {'tW32':>8} {'x32':>5}"]

    def ms(impl, mode, k):
        r = by.get((impl, mode) + k)
        return r["ms"] if r else None

    def f(v, w=8, p=3):
        return f"{v:{w}.{p}f}" if v is not None else f"{'-':>{w}}"

    seen = []
    for r in ours + theirs:
        k = key(r)
        if r["mode"] == "decode" or k in seen:
            continue
        seen.append(k)
        a = ms("attnscope", "forward", k)
        t = ms("pytorch", "forward", k)
        aw = by.get(("attnscope", "forward_weights") + k)
        tw16 = ms("pytorch", "forward_weights", k)
        tw32 = ms("pytorch", "forward_weights_fp32", k)
        tf = by.get(("attnscope", "forward") + k, {}).get("tflops")
        lines.append(
            f"{'%s,%s,%s,%s' % (k[0], k[1], k[2], k[4]):>16} {str(k[5]):>6} | {f(a)} {f(t)} "
            f"{f(t / a if a and t else None, 5, 2)} {f(tf, 5, 0)} | "
            f"{f(aw['ms'] if aw else None)} {f(aw['ratio_to_forward'] if aw else None, 5, 2)} "
            f"{f(aw['weights_tbps'] * 1000 if aw else None, 7, 0)} | {f(tw16)} {f(tw32)} "
            f"{f(tw32 / aw['ms'] if aw and tw32 else None, 5, 2)}")
    lines.append("decode (Tq = 1): B,H,Tk,d  attnscope ms (TB/s)  torch ms (TB/s)  x")
    for r in ours + theirs:
        if r["mode"] != "decode" or r["impl"] != "attnscope":
            continue
        t = by.get(("pytorch", "decode") + key(r))
        lines.append(f"  {r['B']},{r['H']},{r['Tk']},{r['d']}  {r['ms']:.4f} ({r['tbps']:.2f})  "
                     + (f"{t['ms']:.4f} ({t['tbps']:.2f})  {t['ms'] / r['ms']:.2f}" if t else "-"))
    return lines


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    print("\n".join(tests(out) + w6(out) + bench(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
