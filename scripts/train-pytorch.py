#!/usr/bin/python3
"""The PyTorch peer of `attnscope train` for the real-data benchmark (docs/training.md).

Trains the same model with the same recipe on the same SentencePiece tokens as
`scripts/benchmark-tatoeba.sh` gives attnscope, and translates the test set greedily at each
time mark. Scoring is left to `attnscope score`, so both systems are scored by one BLEU/chrF.

  /usr/bin/python3 scripts/train-pytorch.py [--data DIR] \\
      --spm runs/tatoeba/attnscope/shared.spm --out runs/tatoeba/pytorch --marks "10 25 50"

The corpus is DIR/tatoeba-pt-en/{train,dev,test}.tsv (DIR: data/ in the repository unless
--data says otherwise; bash scripts/get-data.sh tatoeba-pt-en fetches it there), or the files
given with --train, --valid and --test.

The model is attnscope's Transformer written with nn.Transformer: one embedding table shared
by source, target and the output projection (·√D, sinusoidal positions, dropout), post-norm
ReLU layers with the final encoder and decoder norms, an output bias. The recipe: batches of
at most --batch-tokens padded tokens cut from length-sorted pairs and shuffled per epoch,
label-smoothed cross-entropy, Adam (0.9, 0.98, 1e-9), linear warm-up then inverse square
root, gradient norm clipping, dev loss every --valid-every updates (counted as training
time, as in attnscope). At a mark (training time ≥ M minutes) the dev loss is taken once
more, and the best model by dev loss so far (attnscope's model.safetensors) translates the
test set; that time is not counted. Writes OUT/hyp-M.txt (best model), OUT/hyp-M-last.txt
(the last weights) and OUT/mark-M.json per mark.

Needs Debian's python3-torch, python3-sentencepiece and OpenBLAS
(bash scripts/install-pytorch-peer.sh).
"""
import argparse
import copy
import json
import math
import os
import random
import sys
import time
import warnings

import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, BOS, EOS, UNK = 0, 1, 2, 3
DEFAULT_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


def read_tsv(path):
    """source<TAB>target pairs; lines without a tab or with an empty side are skipped (and
    counted), like attnscope's corpus reader."""
    pairs, skipped = [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").rstrip("\r").split("\t")
            if len(cols) < 2 or not cols[0].strip() or not cols[1].strip():
                skipped += 1
                continue
            pairs.append((cols[0], cols[1]))
    return pairs, skipped


def encode_pairs(sp, pairs, max_len):
    out = []
    for s, t in pairs:
        src = sp.encode(s) + [EOS]
        tgt = [BOS] + sp.encode(t) + [EOS]
        if len(src) <= max_len and len(tgt) - 1 <= max_len:
            out.append((src, tgt))
    return out


def plan_batches(pairs, max_tokens, rng):
    """attnscope's batcher: sort by (source length, target length) with ties in random order,
    cut greedily so that rows × max(Ts, Tt) ≤ max_tokens, shuffle the batches."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    order.sort(key=lambda i: (len(pairs[i][0]), len(pairs[i][1])))
    batches, cur, ts, tt = [], [], 0, 0
    for i in order:
        s, t = len(pairs[i][0]), len(pairs[i][1]) - 1
        nts, ntt = max(ts, s), max(tt, t)
        if cur and (len(cur) + 1) * max(nts, ntt) > max_tokens:
            batches.append(cur)
            cur, nts, ntt = [], s, t
        cur.append(i)
        ts, tt = nts, ntt
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def make_batch(pairs, idx):
    ts = max(len(pairs[i][0]) for i in idx)
    tt = max(len(pairs[i][1]) - 1 for i in idx)
    src = torch.full((len(idx), ts), PAD, dtype=torch.long)
    tin = torch.full((len(idx), tt), PAD, dtype=torch.long)
    tout = torch.full((len(idx), tt), PAD, dtype=torch.long)
    for r, i in enumerate(idx):
        s, t = pairs[i]
        src[r, : len(s)] = torch.tensor(s)
        tin[r, : len(t) - 1] = torch.tensor(t[:-1])
        tout[r, : len(t) - 1] = torch.tensor(t[1:])
    return src, tin, tout


class Seq2Seq(nn.Module):
    def __init__(self, vocab, d_model, heads, layers, d_ff, dropout, max_len):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab, d_model)
        nn.init.normal_(self.embed.weight, 0.0, d_model ** -0.5)
        pos = torch.arange(max_len + 1, dtype=torch.float64).unsqueeze(1)
        div = torch.pow(10000.0, torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
        pe = torch.zeros(max_len + 1, d_model, dtype=torch.float64)
        pe[:, 0::2] = torch.sin(pos / div)
        pe[:, 1::2] = torch.cos(pos / div)
        self.register_buffer("pe", pe.float())
        self.drop = nn.Dropout(dropout)
        self.transformer = nn.Transformer(d_model, heads, layers, layers, d_ff, dropout,
                                          batch_first=True)
        self.out_bias = nn.Parameter(torch.zeros(vocab))

    def embed_ids(self, ids):
        return self.drop(self.embed(ids) * math.sqrt(self.d_model) + self.pe[: ids.shape[1]])

    def encode(self, src):
        return self.transformer.encoder(self.embed_ids(src), src_key_padding_mask=src == PAD)

    def decode(self, tgt_in, memory, src):
        mask = self.transformer.generate_square_subsequent_mask(tgt_in.shape[1])
        h = self.transformer.decoder(self.embed_ids(tgt_in), memory, tgt_mask=mask,
                                     memory_key_padding_mask=src == PAD)
        return F.linear(h, self.embed.weight, self.out_bias)  # tied output projection

    def forward(self, src, tgt_in):
        return self.decode(tgt_in, self.encode(src), src)


def loss_of(model, batch, smoothing):
    src, tin, tout = batch
    logits = model(src, tin)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tout.reshape(-1),
                           ignore_index=PAD, label_smoothing=smoothing)
    return loss, int((tout != PAD).sum())


@torch.no_grad()
def dev_loss(model, pairs, max_tokens):
    """Mean cross-entropy (no smoothing) per target token over the dev set."""
    model.eval()
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]))
    total, tokens, cur, longest = 0.0, 0, [], 0
    chunks = []
    for i in order:
        n = max(len(pairs[i][0]), len(pairs[i][1]))
        if cur and (len(cur) + 1) * max(longest, n) > max_tokens:
            chunks.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, n)
    if cur:
        chunks.append(cur)
    for idx in chunks:
        loss, n = loss_of(model, make_batch(pairs, idx), 0.0)
        total += float(loss) * n
        tokens += n
    model.train()
    return total / max(tokens, 1)


@torch.no_grad()
def translate(model, sp, sentences, batch, max_len_ratio, max_len):
    """Greedy decoding, batched by source length. nn.Transformer has no KV cache: each step
    runs the decoder over the whole prefix (how its users decode)."""
    model.eval()
    encoded = [sp.encode(s)[: max_len - 1] + [EOS] for s in sentences]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    out = [""] * len(encoded)
    for start in range(0, len(order), batch):
        idx = order[start: start + batch]
        ts = max(len(encoded[i]) for i in idx)
        src = torch.full((len(idx), ts), PAD, dtype=torch.long)
        for r, i in enumerate(idx):
            src[r, : len(encoded[i])] = torch.tensor(encoded[i])
        limit = torch.tensor([min(int(max_len_ratio * len(encoded[i])) + 10, max_len)
                              for i in idx])
        memory = model.encode(src)
        ys = torch.full((len(idx), 1), BOS, dtype=torch.long)
        done = torch.zeros(len(idx), dtype=torch.bool)
        for t in range(int(limit.max())):
            logits = model.decode(ys, memory, src)[:, -1]
            logits[:, [PAD, BOS]] = float("-inf")
            nxt = logits.argmax(dim=-1)
            nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
            ys = torch.cat([ys, nxt.unsqueeze(1)], dim=1)
            done |= (nxt == EOS) | (t + 1 >= limit)
            if bool(done.all()):
                break
        for r, i in enumerate(idx):
            ids = []
            for tok in ys[r, 1:].tolist():
                if tok in (EOS, PAD):
                    break
                ids.append(tok)
            out[i] = sp.decode(ids)
    model.train()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA,
                    help="the corpora folder of scripts/get-data.sh (default: data/ in the "
                         "repository); --train, --valid and --test default to its "
                         "tatoeba-pt-en/{train,dev,test}.tsv")
    ap.add_argument("--train")
    ap.add_argument("--valid")
    ap.add_argument("--test")
    ap.add_argument("--spm", required=True, help="SentencePiece model (attnscope's shared.spm)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--marks", default="10 25 50", help="minutes of training, space-separated")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--d-ff", type=int, default=1024)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--batch-tokens", type=int, default=2048)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--clip-norm", type=float, default=1.0)
    ap.add_argument("--valid-every", type=int, default=500)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--decode-batch", type=int, default=32)
    ap.add_argument("--max-len-ratio", type=float, default=2.0)
    a = ap.parse_args()
    for flag, name in (("train", "train"), ("valid", "dev"), ("test", "test")):
        if getattr(a, flag) is None:
            setattr(a, flag, os.path.join(a.data, "tatoeba-pt-en", name + ".tsv"))
        if not os.path.isfile(getattr(a, flag)):
            ap.error(f"--{flag}: {getattr(a, flag)} not found (bash scripts/get-data.sh "
                     f"tatoeba-pt-en fetches the corpus into data/; or pass --data DIR)")
    if not os.path.isfile(a.spm):
        ap.error(f"--spm: {a.spm} not found")

    # nn.TransformerEncoder's inference path notes that nested tensors are a prototype.
    warnings.filterwarnings("ignore", message=".*nested tensors.*")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    marks = sorted(float(m) for m in a.marks.split())
    sp = spm.SentencePieceProcessor(model_file=a.spm)
    if (sp.pad_id(), sp.bos_id(), sp.eos_id(), sp.unk_id()) != (PAD, BOS, EOS, UNK):
        sys.exit(f"{a.spm}: special ids must be pad 0, bos 1, eos 2, unk 3")
    train_raw, skipped = read_tsv(a.train)
    train = encode_pairs(sp, train_raw, a.max_len)
    dev = encode_pairs(sp, read_tsv(a.valid)[0], a.max_len)
    test = read_tsv(a.test)[0]
    print(f"{len(train)} training pairs ({skipped} skipped), {len(dev)} dev, {len(test)} test; "
          f"vocab {sp.get_piece_size()}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", file=sys.stderr, flush=True)

    model = Seq2Seq(sp.get_piece_size(), a.d_model, a.heads, a.layers, a.d_ff, a.dropout,
                    a.max_len)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.98), eps=1e-9)

    def lr_at(step):  # step counts from 1, as attnscope's LrSchedule
        s, w = max(step, 1), max(a.warmup, 1)
        return a.lr * s / w if s < w else a.lr * math.sqrt(w / s)

    best = {"loss": float("inf"), "step": 0, "state": None}

    def validate(step):
        v = dev_loss(model, dev, a.batch_tokens)
        if v < best["loss"]:
            best.update(loss=v, step=step, state=copy.deepcopy(model.state_dict()))
        return v

    step, epoch, tokens_seen = 0, 0, 0
    batches, index = plan_batches(train, a.batch_tokens, rng), 0
    elapsed = 0.0  # training time: updates and periodic validation, not test decoding
    window_loss, window_steps, window_tokens, window_t = 0.0, 0, 0, 0.0
    for mark in marks:
        while elapsed < 60.0 * mark:
            t0 = time.perf_counter()
            if index == len(batches):
                epoch += 1
                batches, index = plan_batches(train, a.batch_tokens, rng), 0
            batch = make_batch(train, batches[index])
            index += 1
            step += 1
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            opt.zero_grad()
            loss, n = loss_of(model, batch, a.label_smoothing)
            if not math.isfinite(float(loss)):
                sys.exit(f"step {step}: loss is {float(loss)}")
            loss.backward()
            if a.clip_norm > 0:
                nn.utils.clip_grad_norm_(model.parameters(), a.clip_norm)
            opt.step()
            tokens_seen += n
            window_loss += float(loss)
            window_steps += 1
            window_tokens += n
            if step % a.valid_every == 0:
                v = validate(step)
                print(f"step {step}: dev loss {v:.4f} (best step {best['step']})",
                      file=sys.stderr, flush=True)
            dt = time.perf_counter() - t0
            elapsed += dt
            window_t += dt
            if step % a.log_every == 0:
                print(f"step {step} epoch {epoch} loss {window_loss / window_steps:.4f} "
                      f"lr {lr_at(step):.2e} {window_tokens / window_t:.0f} tgt tok/s "
                      f"elapsed {elapsed / 60:.1f} min", file=sys.stderr, flush=True)
                window_loss, window_steps, window_tokens, window_t = 0.0, 0, 0, 0.0
        v = validate(step)
        tag = f"{mark:g}"
        sources = [s for s, _ in test]
        # The last weights too (hyp-M-last.txt), for comparison with the best-by-dev-loss model.
        last_hyps = translate(model, sp, sources, a.decode_batch, a.max_len_ratio, a.max_len)
        live = copy.deepcopy(model.state_dict())
        model.load_state_dict(best["state"])
        t0 = time.perf_counter()
        hyps = translate(model, sp, sources, a.decode_batch, a.max_len_ratio, a.max_len)
        decode_s = time.perf_counter() - t0
        model.load_state_dict(live)
        for name, lines in ((f"hyp-{tag}.txt", hyps), (f"hyp-{tag}-last.txt", last_hyps)):
            with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
                f.write("".join(h + "\n" for h in lines))
        info = {"minutes": mark, "step": step, "epoch": epoch, "elapsed_s": round(elapsed, 1),
                "dev_loss": round(v, 4), "best_step": best["step"],
                "tgt_tokens_per_s": round(tokens_seen / elapsed, 1),
                "decode_s": round(decode_s, 1), "torch": torch.__version__,
                "threads": torch.get_num_threads()}
        with open(os.path.join(a.out, f"mark-{tag}.json"), "w") as f:
            json.dump(info, f)
        print(json.dumps(info), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
