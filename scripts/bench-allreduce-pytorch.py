#!/usr/bin/env python3
"""The peer of W7's gradient sum (docs/scaling.md): PyTorch's torch.distributed.all_reduce over
Gloo — the backend DistributedDataParallel uses on CPUs — of one float32 buffer of the W2
(small) and W6 (base) models' parameter counts, between N processes on this machine over TCP on
loopback. Prints one JSON line per model, with the fields of `attnscope bench W7 --json` it
shares (params, bytes, sum_ms, sum_min_ms, bus_gbit_s), after warm-up, median of --repeat.

    /usr/bin/python3 scripts/bench-allreduce-pytorch.py [--ranks 2] [--repeat 5]
        [--params small=N base=M]   (default: the counts W7 reports)
"""

import argparse
import json
import os
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

# The parameter counts of W7's models (`attnscope bench W7 --json`: "params").
DEFAULT_PARAMS = {"small": 11_682_624, "base": 93_324_544}


def worker(rank, world, port, params, repeat, warmup, queue):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    rows = []
    for model, n in params.items():
        buf = torch.ones(n, dtype=torch.float32)
        times = []
        for i in range(warmup + repeat):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(buf)
            dt = time.perf_counter() - t0
            if i >= warmup:
                times.append(dt * 1e3)
        med = statistics.median(times)
        nbytes = 4.0 * n
        bus = 2.0 * (world - 1) / world * nbytes * 8 / (med / 1e3) / 1e9
        rows.append({"workload": "W7-peer", "peer": f"torch {torch.__version__} gloo",
                     "model": model, "ranks": world, "params": n, "bytes": nbytes,
                     "sum_ms": med, "sum_min_ms": min(times), "bus_gbit_s": bus})
    if rank == 0:
        queue.put(rows)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--port", type=int, default=29517)
    ap.add_argument("--params", nargs="*", default=[],
                    help="model=count pairs (default: W7's small and base)")
    a = ap.parse_args()
    params = dict(DEFAULT_PARAMS)
    for item in a.params:
        name, _, count = item.partition("=")
        params[name] = int(count)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=worker,
                         args=(r, a.ranks, a.port, params, a.repeat, a.warmup, queue))
             for r in range(a.ranks)]
    for p in procs:
        p.start()
    rows = queue.get(timeout=600)
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"bench-allreduce-pytorch: a rank exited with {p.exitcode}")
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
