#!/usr/bin/env python3
"""PyTorch fixtures for attnscope's "rnn-attention" architecture (src/nn/lstm.h,
src/nn/additive_attention.h, src/nn/rnn_attention_model.h).

Run from anywhere (Debian's python3-torch 1.13 + numpy; no other package is needed):

    /usr/bin/python3 tools/make_rnn_fixtures.py

It rewrites tests/data/rnn/{lstm.safetensors, model.safetensors, model_fixture.safetensors}.
The outputs are committed, so the C++ tests need no PyTorch; rerun this script only when the
cases change. It is deterministic (fixed seeds, one thread, OpenBLAS's Haswell kernels pinned
below): a rerun reproduces the committed bytes. Files are written by tools/safetensors_io.py.

lstm.safetensors — one bidirectional nn.LSTM layer over a right-padded batch, as packed
sequences (pack_padded_sequence, enforce_sorted=False):
    x [B,T,I], lengths [B] (I64), weight_ih_l0 … bias_hh_l0_reverse (nn.LSTM's own names),
    y [B,T,2H] (pad_packed_sequence: zeros at padding), h_n [2,B,H], c_n [2,B,H],
    r_y [B,T,2H], r_h [2,B,H], r_c [2,B,H] and, for loss = Σ y⊙r_y + Σ h_n⊙r_h + Σ c_n⊙r_c,
    grad.x and grad.<weight> for every weight.

model.safetensors + model_fixture.safetensors — the whole model (a twin of
src/nn/rnn_attention_model.h):

    a      = BiLSTM(src_embed(src))                     [B, Ts, 2H]  (packed: padding skipped)
    s, c   = tanh(bridge(h_n[backward])), 0             [B, Hd]
    step t:  e = vᵀ tanh(W s + U a + b_U), padded keys −∞;  α = softmax(e);  ctx = Σ α a
             s, c = LSTMCell([tgt_embed(tgt_in[:, t]) ; ctx], (s, c))
             logits[:, t] = generator([s ; ctx])
    loss   = cross_entropy(logits, tgt_out, ignore_index=pad, label_smoothing=0.1)

model.safetensors holds the weights under the twin's state_dict names (attnscope's names);
model_fixture.safetensors holds src, tgt_in, tgt_out (I64), logits [B,Tt,V], alpha [B,Tt,Ts],
loss [1] and grad.<param> for every parameter; its metadata holds the sizes (embed_size,
encoder_hidden, decoder_hidden, attention_size, src_vocab, tgt_vocab, pad/bos/eos/unk ids),
label_smoothing and torch_version. A hand-written forward (no nn.LSTM, no packing) checks that
this description is exact.
"""

import os

# The committed fixtures were computed with OpenBLAS's Haswell (AVX2) kernels: other kernel sets
# round some sums differently in the last bit, so pin them (before numpy or torch loads OpenBLAS)
# and a rerun reproduces the committed bytes. Set OPENBLAS_CORETYPE yourself to choose another.
os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from safetensors_io import read_safetensors, write_safetensors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "data", "rnn")

PAD, BOS, EOS, UNK = 0, 1, 2, 3
LABEL_SMOOTHING = 0.1

LSTM_CASE = dict(input_size=4, hidden_size=5, lengths=[6, 3, 1, 5], seed=20240611)
MODEL_CASE = dict(embed_size=6, encoder_hidden=5, decoder_hidden=7, attention_size=9,
                  src_vocab=13, tgt_vocab=11, src_lengths=[6, 3, 5], tgt_lengths=[4, 6, 2],
                  seed=20240612)


def f32(t):
    return t.detach().numpy().astype(np.float32)


# ----------------------------------------------------------------------------------------------
# A hand-written LSTM (gate order i, f, g, o) over a padding mask: a padded step keeps the state
# and outputs 0. The C++ semantics; it must equal nn.LSTM on packed sequences.

def manual_lstm(x, lengths, w_ih, w_hh, b_ih, b_hh, reverse):
    b, t_len, _ = x.shape
    hid = w_hh.shape[1]
    h = torch.zeros(b, hid, dtype=x.dtype)
    c = torch.zeros(b, hid, dtype=x.dtype)
    y = torch.zeros(b, t_len, hid, dtype=x.dtype)
    steps = range(t_len - 1, -1, -1) if reverse else range(t_len)
    for t in steps:
        valid = (t < lengths)[:, None]
        g = x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, gg, o = g.chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        h_new = torch.sigmoid(o) * torch.tanh(c_new)
        h = torch.where(valid, h_new, h)
        c = torch.where(valid, c_new, c)
        y[:, t] = torch.where(valid, h_new, torch.zeros_like(h_new))
    return y, h, c


def build_lstm_case(case):
    torch.manual_seed(case["seed"])
    lengths = torch.tensor(case["lengths"], dtype=torch.int64)
    b, t_len = len(case["lengths"]), max(case["lengths"])
    i_size, h_size = case["input_size"], case["hidden_size"]
    lstm = nn.LSTM(i_size, h_size, batch_first=True, bidirectional=True)
    x = torch.randn(b, t_len, i_size)
    for r, n in enumerate(case["lengths"]):
        x[r, n:] = 0  # what an embedding of padding would hold does not matter; keep it tidy
    x.requires_grad_(True)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h_n, c_n) = lstm(packed)
    y, _ = pad_packed_sequence(out, batch_first=True, total_length=t_len)
    r_y, r_h, r_c = torch.randn_like(y), torch.randn_like(h_n), torch.randn_like(c_n)
    loss = (y * r_y).sum() + (h_n * r_h).sum() + (c_n * r_c).sum()
    loss.backward()

    with torch.no_grad():
        p = dict(lstm.named_parameters())
        yf, hf, cf = manual_lstm(x, lengths, p["weight_ih_l0"], p["weight_hh_l0"],
                                 p["bias_ih_l0"], p["bias_hh_l0"], False)
        yb, hb, cb = manual_lstm(x, lengths, p["weight_ih_l0_reverse"],
                                 p["weight_hh_l0_reverse"], p["bias_ih_l0_reverse"],
                                 p["bias_hh_l0_reverse"], True)
        assert torch.allclose(torch.cat([yf, yb], -1), y, atol=1e-6), "manual LSTM y"
        assert torch.allclose(torch.stack([hf, hb]), h_n, atol=1e-6), "manual LSTM h_n"
        assert torch.allclose(torch.stack([cf, cb]), c_n, atol=1e-6), "manual LSTM c_n"

    tensors = [("x", f32(x)), ("lengths", lengths.numpy())]
    tensors += [(n, f32(t)) for n, t in lstm.named_parameters()]
    tensors += [("y", f32(y)), ("h_n", f32(h_n)), ("c_n", f32(c_n)), ("r_y", f32(r_y)),
                ("r_h", f32(r_h)), ("r_c", f32(r_c)), ("grad.x", f32(x.grad))]
    tensors += [("grad." + n, f32(t.grad)) for n, t in lstm.named_parameters()]
    path = os.path.join(OUT_DIR, "lstm.safetensors")
    write_safetensors(path, tensors, {"torch_version": torch.__version__,
                                      "source": "tools/make_rnn_fixtures.py"})
    print(f"lstm: B={b} T={t_len} I={i_size} H={h_size} lengths={case['lengths']} "
          f"({os.path.getsize(path)} B)")


# ----------------------------------------------------------------------------------------------
# The whole model.

class AdditiveAttention(nn.Module):
    def __init__(self, query_size, key_size, attention_size):
        super().__init__()
        self.W = nn.Linear(query_size, attention_size, bias=False)
        self.U = nn.Linear(key_size, attention_size)
        self.v = nn.Linear(attention_size, 1, bias=False)

    def forward(self, s, a, keys_proj, key_padding):
        e = self.v(torch.tanh(self.W(s)[:, None, :] + keys_proj)).squeeze(-1)  # [B, Ts]
        e = e.masked_fill(key_padding, float("-inf"))
        alpha = torch.softmax(e, dim=-1)
        return alpha, (alpha[..., None] * a).sum(1)


class RnnAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        e, h, hd = cfg["embed_size"], cfg["encoder_hidden"], cfg["decoder_hidden"]
        self.src_embed = nn.Embedding(cfg["src_vocab"], e)
        self.tgt_embed = nn.Embedding(cfg["tgt_vocab"], e)
        self.encoder = nn.LSTM(e, h, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(h, hd)
        self.attention = AdditiveAttention(hd, 2 * h, cfg["attention_size"])
        self.decoder = nn.LSTMCell(e + 2 * h, hd)
        self.generator = nn.Linear(hd + 2 * h, cfg["tgt_vocab"])

    def forward(self, src, tgt_in):
        b, ts = src.shape
        key_padding = src == PAD
        lengths = (~key_padding).sum(1)
        packed = pack_padded_sequence(self.src_embed(src), lengths, batch_first=True,
                                      enforce_sorted=False)
        out, (h_n, _) = self.encoder(packed)
        a, _ = pad_packed_sequence(out, batch_first=True, total_length=ts)
        s = torch.tanh(self.bridge(h_n[1]))  # the backward direction's final state
        c = torch.zeros_like(s)
        keys_proj = self.attention.U(a)
        y = self.tgt_embed(tgt_in)
        logits, alphas = [], []
        for t in range(tgt_in.shape[1]):
            alpha, ctx = self.attention(s, a, keys_proj, key_padding)  # from s<t-1>
            s, c = self.decoder(torch.cat([y[:, t], ctx], -1), (s, c))
            logits.append(self.generator(torch.cat([s, ctx], -1)))
            alphas.append(alpha)
        return torch.stack(logits, 1), torch.stack(alphas, 1)


def manual_model(p, src, tgt_in):
    """The same model from the raw weights, with manual_lstm and no packing."""
    key_padding = src == PAD
    lengths = (~key_padding).sum(1)
    x = p["src_embed.weight"][src]
    n = "encoder.{}_l0"
    yf, _, _ = manual_lstm(x, lengths, p[n.format("weight_ih")], p[n.format("weight_hh")],
                           p[n.format("bias_ih")], p[n.format("bias_hh")], False)
    n = "encoder.{}_l0_reverse"
    yb, hb, _ = manual_lstm(x, lengths, p[n.format("weight_ih")], p[n.format("weight_hh")],
                            p[n.format("bias_ih")], p[n.format("bias_hh")], True)
    a = torch.cat([yf, yb], -1)
    s = torch.tanh(hb @ p["bridge.weight"].T + p["bridge.bias"])
    c = torch.zeros_like(s)
    kp = a @ p["attention.U.weight"].T + p["attention.U.bias"]
    logits, alphas = [], []
    for t in range(tgt_in.shape[1]):
        e = (torch.tanh((s @ p["attention.W.weight"].T)[:, None] + kp)
             @ p["attention.v.weight"].T)[..., 0]
        alpha = torch.softmax(e.masked_fill(key_padding, float("-inf")), -1)
        ctx = (alpha[..., None] * a).sum(1)
        g = (torch.cat([p["tgt_embed.weight"][tgt_in[:, t]], ctx], -1) @ p["decoder.weight_ih"].T
             + p["decoder.bias_ih"] + s @ p["decoder.weight_hh"].T + p["decoder.bias_hh"])
        i, f, gg, o = g.chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        s = torch.sigmoid(o) * torch.tanh(c)
        logits.append(torch.cat([s, ctx], -1) @ p["generator.weight"].T + p["generator.bias"])
        alphas.append(alpha)
    return torch.stack(logits, 1), torch.stack(alphas, 1)


def make_batch(case, gen):
    b = len(case["src_lengths"])
    ts, tt = max(case["src_lengths"]), max(case["tgt_lengths"]) + 1
    src = torch.full((b, ts), PAD, dtype=torch.int64)
    tgt = torch.full((b, tt + 1), PAD, dtype=torch.int64)
    for i, (ls, lt) in enumerate(zip(case["src_lengths"], case["tgt_lengths"])):
        src[i, :ls] = torch.randint(UNK, case["src_vocab"], (ls,), generator=gen)
        tgt[i, 0] = BOS
        tgt[i, 1:lt + 1] = torch.randint(UNK, case["tgt_vocab"], (lt,), generator=gen)
        tgt[i, lt + 1] = EOS
    return src, tgt[:, :-1].contiguous(), tgt[:, 1:].contiguous()


def build_model_case(case):
    torch.manual_seed(case["seed"])
    cfg = {k: case[k] for k in ("embed_size", "encoder_hidden", "decoder_hidden",
                                "attention_size", "src_vocab", "tgt_vocab")}
    model = RnnAttention(cfg)
    with torch.no_grad():  # sharper attention than the default init gives
        model.attention.v.weight.normal_(0.0, 1.0)
    src, tgt_in, tgt_out = make_batch(case, torch.Generator().manual_seed(case["seed"] + 1))
    params = dict(model.named_parameters())
    initial = {n: t.detach().clone() for n, t in params.items()}

    model.train()
    logits, alpha = model(src, tgt_in)
    v = logits.shape[-1]
    loss = F.cross_entropy(logits.reshape(-1, v), tgt_out.reshape(-1), ignore_index=PAD,
                           label_smoothing=LABEL_SMOOTHING)
    loss.backward()

    with torch.no_grad():
        m_logits, m_alpha = manual_model(initial, src, tgt_in)
        assert torch.allclose(m_logits, logits, atol=1e-5), (m_logits - logits).abs().max()
        assert torch.allclose(m_alpha, alpha, atol=1e-6), (m_alpha - alpha).abs().max()
        assert torch.allclose(alpha.sum(-1), torch.ones(()), atol=1e-5)
        assert (alpha[(src == PAD)[:, None, :].expand_as(alpha)] == 0).all()

    os.makedirs(OUT_DIR, exist_ok=True)
    write_safetensors(os.path.join(OUT_DIR, "model.safetensors"),
                      [(n, f32(t)) for n, t in initial.items()],
                      {"format": "pt", "source": "tools/make_rnn_fixtures.py"})
    fixture = [("src", src.numpy()), ("tgt_in", tgt_in.numpy()), ("tgt_out", tgt_out.numpy()),
               ("logits", f32(logits)), ("alpha", f32(alpha)),
               ("loss", np.array([loss.item()], dtype=np.float32))]
    fixture += [("grad." + n, f32(p.grad)) for n, p in params.items()]
    meta = dict(cfg)
    meta.update(pad_id=PAD, bos_id=BOS, eos_id=EOS, unk_id=UNK,
                label_smoothing=repr(LABEL_SMOOTHING), torch_version=torch.__version__)
    write_safetensors(os.path.join(OUT_DIR, "model_fixture.safetensors"), fixture, meta)

    fx, _ = read_safetensors(os.path.join(OUT_DIR, "model_fixture.safetensors"))
    assert np.array_equal(fx["logits"], f32(logits))
    sharp = alpha.max(-1).values.mean().item()
    print(f"model: B={src.shape[0]} Ts={src.shape[1]} Tt={tgt_in.shape[1]} "
          f"loss={loss.item():.6f}, mean max α {sharp:.3f} (uniform over 6 keys: 0.167)")
    for name in ("model.safetensors", "model_fixture.safetensors"):
        size = os.path.getsize(os.path.join(OUT_DIR, name))
        assert size < 100_000, (name, size)
        print(f"  {name} {size} B")


def main():
    torch.set_num_threads(1)  # fixed reduction order: the same bytes on every run
    print(f"torch {torch.__version__}, numpy {np.__version__}")
    os.makedirs(OUT_DIR, exist_ok=True)
    build_lstm_case(LSTM_CASE)
    build_model_case(MODEL_CASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
