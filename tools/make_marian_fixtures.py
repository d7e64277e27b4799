#!/usr/bin/env python3
"""Hugging Face Marian (OPUS-MT) fixtures for attnscope: a plain-PyTorch twin and its golden files.

Run from anywhere (Debian's python3-torch 1.13, python3-numpy and python3-sentencepiece; no
`transformers`, no network):

    /usr/bin/python3 tools/make_marian_fixtures.py            # rewrites tests/data/marian/
    /usr/bin/python3 tools/make_marian_fixtures.py --out DIR  # writes elsewhere
    /usr/bin/python3 tools/make_marian_fixtures.py --check    # rebuilds in a temporary folder and
                                                              # compares with the committed files

For each variant it writes tests/data/marian/<variant>/:

    model/                 a tiny random model directory in exactly the layout that
                           MarianMTModel.save_pretrained + MarianTokenizer.save_pretrained give
                           (config.json, generation_config.json, model.safetensors without the
                           tied copies, source.spm, target.spm, vocab.json [+ target_vocab.json],
                           tokenizer_config.json, special_tokens_map.json)
    golden.safetensors     token ids, teacher-forced logits, every attention map, greedy and
                           beam outputs (names listed in golden.json["tensors"])
    golden.json            the sentences, their pieces and ids, the generation settings used,
                           the generated ids, scores, texts, lengths and how each one ended

The safetensors files are written by tools/safetensors_io.py (the one reader/writer of the Python
tools). The outputs are committed; CI needs no PyTorch. Rerun only when the variants change. The run is
deterministic (fixed seeds, one thread): the same PyTorch and sentencepiece give the same bytes.

What the twin computes is Hugging Face transformers 4.56 (the last 4.x line) in eval mode:
MarianMTModel.forward/generate and MarianTokenizer.__call__/decode. docs/marian-semantics.md
states every rule with the source file and function it comes from; this file follows it and
checks itself three ways before it writes anything:

  1. the hand-written forward equals torch.nn.TransformerEncoderLayer/DecoderLayer (post-norm,
     the same weights) on the logits: the layer wiring is right;
  2. the KV-cached incremental decoder equals the full teacher-forced forward (logits and every
     map) for every greedy and beam output;
  3. beam search with num_beams=1 returns exactly the greedy output.
"""

import argparse
import io
import json
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

from safetensors_io import read_safetensors, write_safetensors  # tools/, the shared module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "tests", "data", "marian")
TRANSFORMERS_VERSION = "4.56.2"  # the version whose semantics the twin follows
LAYER_NORM_EPS = 1e-5            # nn.LayerNorm's default; Marian has no config key for it
F32_MIN = torch.finfo(torch.float32).min  # HF's additive mask value (not -inf)

# ----------------------------------------------------------------------------------------------
# Embedded text. The tokenizers are trained on it (sentencepiece, in-process, one thread).

PT = """Onde fica a estação de comboios?
Onde fica a estação?
O gato dorme em cima da cadeira.
Eu gosto de ler livros antigos à noite.
A minha irmã mora em Lisboa há dez anos.
Quanto custa um bilhete para o Porto?
O comboio parte às oito e meia da manhã.
Hoje está muito calor na cidade.
Podes ajudar-me com esta mala, por favor?
Nós vamos jantar num restaurante perto do rio.
O livro que eu comprei ontem é muito bom.
As crianças brincam no jardim depois da escola.
Ele não sabe onde deixou as chaves do carro.
A reunião começa amanhã às três horas.
Preciso de comprar pão, leite e fruta.
O meu pai trabalha num hospital pequeno.
Gostava de visitar o museu antes de partir.
A água do mar estava fria demais para nadar.
Esta é a primeira vez que venho a Portugal.
Ela escreveu uma carta ao avô no domingo.
Os preços subiram muito este ano.
Qual é o caminho mais curto para a praia?
O professor explicou a lição com paciência.
Vou esperar por ti à porta do cinema.
A biblioteca fecha às seis da tarde."""

ES = """¿Dónde está la estación de tren?
El perro come pan en la cocina.
Mi hermano vive en Madrid desde hace cinco años.
¿Cuánto cuesta una entrada para el concierto?
Hoy hace mucho frío en la montaña.
Los niños juegan en el parque después de clase.
Necesito comprar agua y un poco de queso.
La reunión empieza mañana a las diez.
Ella no recuerda dónde dejó su teléfono.
Quiero visitar el museo antes de irme.
El tren sale a las nueve de la noche.
Esta es la primera vez que viajo a España.
¿Puedes ayudarme con esta maleta, por favor?
El libro que compré ayer es muy interesante.
Vamos a cenar en un restaurante cerca del río."""

EN = """Where is the train station?
Where is the station?
The cat sleeps on the chair.
I like to read old books at night.
My sister has lived in Lisbon for ten years.
How much is a ticket to Porto?
The train leaves at half past eight in the morning.
It is very hot in the city today.
Can you help me with this bag, please?
We are going to have dinner at a restaurant near the river.
The book I bought yesterday is very good.
The children play in the garden after school.
He does not know where he left the car keys.
The meeting starts tomorrow at three o'clock.
I need to buy bread, milk and fruit.
My father works in a small hospital.
I would like to visit the museum before I leave.
The sea water was too cold for swimming.
This is the first time I have come to Portugal.
She wrote a letter to her grandfather on Sunday.
Prices went up a lot this year.
What is the shortest way to the beach?
The teacher explained the lesson patiently.
I will wait for you at the cinema door.
The library closes at six in the evening.
The dog eats bread in the kitchen.
How much is a ticket for the concert?
See you tomorrow 🙂"""


def lines(text):
    return [s for s in text.split("\n") if s]


# ----------------------------------------------------------------------------------------------
# The variants. Each is one tiny model directory with its golden outputs.
#
# a  shared vocabulary, tied embeddings, swish (the usual OPUS-MT layout), with multilingual
#    target-language tokens >>eng<< >>por<< >>spa<< in vocab.json; F32 weights; pad row non-zero.
# b  separate vocabularies (separate_vocabs, target_vocab.json), untied lm_head, gelu (exact erf),
#    2+1 layers; F32 weights. decoder_vocab_size equals vocab_size: HF cannot load or run any
#    other size (see docs/marian-semantics.md, "decoder_vocab_size").
# c  scale_embedding false, relu, every tensor stored as F16 (what convert_marian_to_pytorch.py
#    writes) and model.{encoder,decoder}.embed_positions.weight present in the file (as in older
#    checkpoints): HF loads those F16-rounded sinusoids and uses them, not freshly computed ones.

VARIANTS = [
    dict(name="shared_swish", seed=1491, d_model=32, heads=4, ffn=64, enc_layers=2, dec_layers=2,
         activation="swish", scale_embedding=True, separate=False, tie=True, lang_tokens=True,
         dtype="F32", embed_positions_in_file=False, pad_row_zero=False,
         src_text=PT + "\n" + ES, tgt_text=EN, src_vocab=120, tgt_vocab=100, src_norm="nmt_nfkc",
         source_lang="pt+es", target_lang="en+pt+es", clean_up=False,
         max_position_embeddings=128, gen=dict(num_beams=4, max_length=12),
         eos_bias=1.5, weight_std=0.55, eos_ramp=2.0, dec_sublayer_scale=2.0, cross_scale=2.0),
    dict(name="separate_gelu", seed=1386, d_model=24, heads=2, ffn=48, enc_layers=2, dec_layers=1,
         activation="gelu", scale_embedding=True, separate=True, tie=False, lang_tokens=False,
         dtype="F32", embed_positions_in_file=False, pad_row_zero=False,
         src_text=PT, tgt_text=EN, src_vocab=110, tgt_vocab=110, src_norm="identity",
         source_lang="pt", target_lang="en", clean_up=True,
         max_position_embeddings=128, gen=dict(num_beams=4, max_length=12),
         eos_bias=2.0, weight_std=0.55, eos_ramp=2.0, dec_sublayer_scale=2.0, cross_scale=2.0),
    dict(name="noscale_relu_f16", seed=1393, d_model=16, heads=2, ffn=32, enc_layers=2,
         dec_layers=2, activation="relu", scale_embedding=False, separate=False, tie=True,
         lang_tokens=False, dtype="F16", embed_positions_in_file=True, pad_row_zero=True,
         src_text=PT, tgt_text=EN, src_vocab=100, tgt_vocab=90, src_norm="identity",
         source_lang="pt", target_lang="en", clean_up=False,
         max_position_embeddings=96, gen=dict(num_beams=6, max_length=12),
         eos_bias=3.0, weight_std=0.6, eos_ramp=2.0, dec_sublayer_scale=2.0, cross_scale=2.0),
]

LANG_TOKENS = [">>eng<<", ">>por<<", ">>spa<<"]

# Source sentences of every variant (the >>por<< one only where the vocabulary has the token):
# index 0 is the pt→en example, 1 carries a target-language token, 2 has characters the
# tokenizers never saw (an emoji, a kanji, a macron), 3 is long and is run with max_new_tokens.
SENTENCES = [
    ("Onde fica a estação?", "Where is the station?"),
    (">>por<< Where is the train station?", "Onde fica a estação de comboios?"),
    ("O gato 🐈 dorme em Tōkyō 東京.", "The cat sleeps in Tokyo."),
    ("A minha irmã mora em Lisboa há dez anos.", "My sister has lived in Lisbon for ten years."),
    ("Quanto custa um bilhete?", "How much is a ticket?"),
]
LONG_CASE = 3
LONG_MAX_NEW_TOKENS = 5

# Tokenizer-only cases (ids and pieces, no model run): the edge cases of MarianTokenizer.
TOKENIZER_CASES = ["", "  Onde   fica  ", "Onde <pad> fica </s>", "||", ">>spa<<Hola",
                   "Ｏｎｄｅ ﬁca?", "Até amanhã 🙂"]


# ----------------------------------------------------------------------------------------------
# JSON files, byte for byte as Hugging Face writes them.

def write_config_json(path, d):
    """PretrainedConfig/GenerationConfig.to_json_file: indent 2, sorted keys, trailing newline."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(d, indent=2, sort_keys=True) + "\n")


def write_vocab_json(path, d):
    """tokenization_marian.save_json: json.dump(indent=2), insertion order, ASCII escapes."""
    with open(path, "w") as f:
        json.dump(d, f, indent=2)


def write_tokenizer_json(path, d):
    """tokenizer_config.json / special_tokens_map.json: indent 2, sorted keys, no ASCII escapes,
    trailing newline (PreTrainedTokenizerBase.save_pretrained)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(d, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


# ----------------------------------------------------------------------------------------------
# Tokenizers: sentencepiece models trained in-process, Marian's vocab.json around them.

def train_spm(text, vocab_size, normalization):
    """normalization "nmt_nfkc" (sentencepiece's default, what OPUS-MT models carry; its
    precompiled character map makes the file ~240 kB) or "identity" (a ~5 kB file)."""
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines(text)), model_writer=buf, vocab_size=vocab_size,
        model_type="unigram", character_coverage=1.0, num_threads=1, hard_vocab_limit=True,
        normalization_rule_name=normalization, minloglevel=2)
    return buf.getvalue()


def spm_pieces(proto):
    """The model's pieces in id order, without its control/unknown symbols."""
    sp = spm.SentencePieceProcessor(model_proto=proto)
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())
            if not (sp.is_control(i) or sp.is_unknown(i))]


def marian_vocab(piece_lists, lang_tokens):
    """Marian's id convention, as convert_marian_to_pytorch.py produces it from vocab.yml:
    </s> 0, <unk> 1, then the pieces (language tokens first here), <pad> appended last."""
    vocab = {"</s>": 0, "<unk>": 1}
    for tok in lang_tokens:
        vocab[tok] = len(vocab)
    for pieces in piece_lists:
        for p in pieces:
            if p not in vocab:
                vocab[p] = len(vocab)
    vocab["<pad>"] = len(vocab)
    return vocab


class MarianTokenizerTwin:
    """MarianTokenizer of transformers 4.56 (tokenization_marian.py + PreTrainedTokenizer)."""

    SPECIAL = ("</s>", "<unk>", "<pad>")

    def __init__(self, src_proto, tgt_proto, vocab, target_vocab, clean_up):
        self.src = spm.SentencePieceProcessor(model_proto=src_proto)
        self.tgt = spm.SentencePieceProcessor(model_proto=tgt_proto)
        self.encoder = vocab
        self.target_encoder = target_vocab if target_vocab is not None else vocab
        self.decoder = {v: k for k, v in self.target_encoder.items()}
        self.clean_up = clean_up
        self.eos_id, self.unk_id, self.pad_id = vocab["</s>"], vocab["<unk>"], vocab["<pad>"]

    @staticmethod
    def remove_language_code(text):
        # 4.54+ (PR #39013): a code only at the very start, up to the FIRST "<<".
        if text.startswith(">>"):
            end = text.find("<<")
            if end != -1:
                return [text[:end + 2]], text[end + 2:]
        return [], text

    def _tokenize_chunk(self, text, sp):
        code, rest = self.remove_language_code(text)
        return code + sp.encode(rest, out_type=str)

    def tokenize(self, text, target=False):
        """PreTrainedTokenizer.tokenize: special tokens are split out first (never split
        themselves); every other chunk goes through _tokenize on its own."""
        sp = self.tgt if target else self.src
        pieces, chunk, i = [], "", 0
        while i < len(text):
            hit = next((s for s in self.SPECIAL if text.startswith(s, i)), None)
            if hit is None:
                chunk += text[i]
                i += 1
                continue
            if chunk:
                pieces += self._tokenize_chunk(chunk, sp)
            chunk = ""
            pieces.append(hit)
            i += len(hit)
        if chunk:
            pieces += self._tokenize_chunk(chunk, sp)
        return pieces

    def encode(self, text, target=False):
        """tokenizer(text) / tokenizer(text_target=...): pieces → ids (unknown: <unk>), </s>."""
        encoder = self.target_encoder if target else self.encoder
        pieces = self.tokenize(text, target)
        ids = [encoder.get(p, encoder["<unk>"]) for p in pieces] + [self.eos_id]
        return pieces, ids

    def decode(self, ids):
        """tokenizer.decode(ids, skip_special_tokens=True) with the target spm (4.x default)."""
        special_ids = {self.target_encoder[s] for s in self.SPECIAL}
        tokens = [self.decoder.get(i, "<unk>") for i in ids if i not in special_ids]
        text = self.tgt.decode_pieces(tokens).replace("\u2581", " ").strip()
        if self.clean_up:
            text = clean_up_tokenization(text)
        return text


def clean_up_tokenization(s):
    """PreTrainedTokenizerBase.clean_up_tokenization."""
    for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
                 (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"),
                 (" 're", "'re")):
        s = s.replace(a, b)
    return s


# ----------------------------------------------------------------------------------------------
# The model twin: MarianMTModel in eval mode, from a dict of float32 tensors named as HF names
# them (model.shared.weight or model.{encoder,decoder}.embed_tokens.weight, lm_head.weight, ...).

def sinusoidal_positions(n_pos, dim):
    """MarianSinusoidalPositionalEmbedding._init_weight: float64 angles pos / 10000^(2*(j//2)/dim),
    sin of the even columns in the first half, cos of the odd columns in the second half."""
    angles = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)]
                       for pos in range(n_pos)])
    out = torch.empty(n_pos, dim, dtype=torch.float32)
    half = dim // 2 if dim % 2 == 0 else dim // 2 + 1
    out[:, :half] = torch.FloatTensor(np.sin(angles[:, 0::2]))
    out[:, half:] = torch.FloatTensor(np.cos(angles[:, 1::2]))
    return out


def activation(name):
    if name in ("swish", "silu"):
        return F.silu
    if name == "gelu":
        return F.gelu  # exact, erf
    if name == "gelu_new":
        return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) *
                                                     (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "relu":
        return F.relu
    raise ValueError(name)


class MarianTwin:
    def __init__(self, cfg, params):
        self.cfg = cfg
        self.p = params
        d = cfg["d_model"]
        self.d = d
        self.scale = math.sqrt(d) if cfg["scale_embedding"] else 1.0
        self.act = activation(cfg["activation_function"])
        self.pad = cfg["pad_token_id"]
        shared = params.get("model.shared.weight")
        self.enc_embed = params.get("model.encoder.embed_tokens.weight", shared)
        self.dec_embed = params.get("model.decoder.embed_tokens.weight", shared)
        tie = cfg.get("tie_word_embeddings", True)
        self.lm_head = self.dec_embed if tie else params["lm_head.weight"]
        self.bias = params["final_logits_bias"]  # [1, V]
        n_pos = cfg["max_position_embeddings"]
        self.enc_pos = params.get("model.encoder.embed_positions.weight",
                                  sinusoidal_positions(n_pos, d))
        self.dec_pos = params.get("model.decoder.embed_positions.weight",
                                  sinusoidal_positions(n_pos, d))

    # -- pieces ----------------------------------------------------------------------------
    def linear(self, x, name):
        return F.linear(x, self.p[name + ".weight"], self.p[name + ".bias"])

    def ln(self, x, name):
        return F.layer_norm(x, (self.d,), self.p[name + ".weight"], self.p[name + ".bias"],
                            LAYER_NORM_EPS)

    def heads(self, x, h):  # [B, T, D] -> [B, H, T, d_head]
        b, t, _ = x.shape
        return x.view(b, t, h, self.d // h).transpose(1, 2)

    def attend(self, q, k, v, mask, name):
        """q [B,H,Tq,dh], k/v [B,H,Tk,dh], mask additive [B,1,Tq,Tk] or None."""
        h = q.shape[1]
        scores = torch.matmul(q, k.transpose(2, 3)) * (self.d // h) ** -0.5
        if mask is not None:
            scores = scores + mask
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(q.shape[0], q.shape[2], self.d)
        return self.linear(out, name + ".out_proj"), probs

    def ffn(self, x, pre):  # pre ends with "."
        return self.linear(self.act(self.linear(x, pre + "fc1")), pre + "fc2")

    # -- encoder ---------------------------------------------------------------------------
    def encode(self, src, src_mask):
        """src [B, Ts] ids, src_mask [B, Ts] 1/0 (the tokenizer's attention_mask)."""
        cfg = self.cfg
        h_n = cfg["encoder_attention_heads"]
        x = F.embedding(src, self.enc_embed) * self.scale + self.enc_pos[:src.shape[1]]
        mask = self.key_mask(src_mask, src.shape[1])
        maps = []
        for l in range(cfg["encoder_layers"]):
            pre = f"model.encoder.layers.{l}."
            q = self.heads(self.linear(x, pre + "self_attn.q_proj"), h_n)
            k = self.heads(self.linear(x, pre + "self_attn.k_proj"), h_n)
            v = self.heads(self.linear(x, pre + "self_attn.v_proj"), h_n)
            a, probs = self.attend(q, k, v, mask, pre + "self_attn")
            x = self.ln(x + a, pre + "self_attn_layer_norm")
            x = self.ln(x + self.ffn(x, pre), pre + "final_layer_norm")
            maps.append(probs)
        return x, maps

    @staticmethod
    def key_mask(src_mask, tq):
        """_prepare_4d_attention_mask: [B, Tk] 1/0 -> additive [B, 1, Tq, Tk], F32_MIN where 0."""
        m = src_mask[:, None, None, :].to(torch.float32).expand(-1, 1, tq, -1)
        inv = 1.0 - m
        return inv.masked_fill(inv.to(torch.bool), F32_MIN)

    # -- decoder, full (teacher forcing) ---------------------------------------------------
    def decode_full(self, tgt_in, memory, src_mask):
        cfg = self.cfg
        h_n = cfg["decoder_attention_heads"]
        b, tt = tgt_in.shape
        x = F.embedding(tgt_in, self.dec_embed) * self.scale + self.dec_pos[:tt]
        causal = torch.triu(torch.full((tt, tt), F32_MIN), diagonal=1)[None, None]
        cross_mask = self.key_mask(src_mask, tt)
        self_maps, cross_maps = [], []
        for l in range(cfg["decoder_layers"]):
            pre = f"model.decoder.layers.{l}."
            q = self.heads(self.linear(x, pre + "self_attn.q_proj"), h_n)
            k = self.heads(self.linear(x, pre + "self_attn.k_proj"), h_n)
            v = self.heads(self.linear(x, pre + "self_attn.v_proj"), h_n)
            a, sp = self.attend(q, k, v, causal, pre + "self_attn")
            x = self.ln(x + a, pre + "self_attn_layer_norm")
            q = self.heads(self.linear(x, pre + "encoder_attn.q_proj"), h_n)
            k = self.heads(self.linear(memory, pre + "encoder_attn.k_proj"), h_n)
            v = self.heads(self.linear(memory, pre + "encoder_attn.v_proj"), h_n)
            a, cp = self.attend(q, k, v, cross_mask, pre + "encoder_attn")
            x = self.ln(x + a, pre + "encoder_attn_layer_norm")
            x = self.ln(x + self.ffn(x, pre), pre + "final_layer_norm")
            self_maps.append(sp)
            cross_maps.append(cp)
        return self.logits(x), self_maps, cross_maps

    def logits(self, x):
        return F.linear(x, self.lm_head) + self.bias

    def forward(self, src, src_mask, tgt_in):
        memory, enc_maps = self.encode(src, src_mask)
        logits, self_maps, cross_maps = self.decode_full(tgt_in, memory, src_mask)
        return logits, enc_maps, self_maps, cross_maps

    # -- decoder, one step with a KV cache ---------------------------------------------------
    def start_cache(self, memory, src_mask):
        cfg = self.cfg
        h_n = cfg["decoder_attention_heads"]
        cache = {"len": 0, "self": [], "cross": [], "cross_mask": self.key_mask(src_mask, 1)}
        for l in range(cfg["decoder_layers"]):
            pre = f"model.decoder.layers.{l}.encoder_attn."
            cache["cross"].append((self.heads(self.linear(memory, pre + "k_proj"), h_n),
                                   self.heads(self.linear(memory, pre + "v_proj"), h_n)))
            cache["self"].append(None)
        return cache

    def step(self, tokens, cache):
        """tokens [B] (the last token of each row); the position is cache['len'] (the decoder
        start token is position 0). Returns logits [B, V] and this step's maps
        (self [B,H,1,t+1], cross [B,H,1,Ts]); appends to the cache."""
        cfg = self.cfg
        h_n = cfg["decoder_attention_heads"]
        t = cache["len"]
        x = F.embedding(tokens[:, None], self.dec_embed) * self.scale + self.dec_pos[t:t + 1]
        self_maps, cross_maps = [], []
        for l in range(cfg["decoder_layers"]):
            pre = f"model.decoder.layers.{l}."
            q = self.heads(self.linear(x, pre + "self_attn.q_proj"), h_n)
            k = self.heads(self.linear(x, pre + "self_attn.k_proj"), h_n)
            v = self.heads(self.linear(x, pre + "self_attn.v_proj"), h_n)
            if cache["self"][l] is not None:
                k = torch.cat([cache["self"][l][0], k], dim=2)
                v = torch.cat([cache["self"][l][1], v], dim=2)
            cache["self"][l] = (k, v)
            a, sp = self.attend(q, k, v, None, pre + "self_attn")
            x = self.ln(x + a, pre + "self_attn_layer_norm")
            q = self.heads(self.linear(x, pre + "encoder_attn.q_proj"), h_n)
            ck, cv = cache["cross"][l]
            a, cp = self.attend(q, ck, cv, cache["cross_mask"], pre + "encoder_attn")
            x = self.ln(x + a, pre + "encoder_attn_layer_norm")
            x = self.ln(x + self.ffn(x, pre), pre + "final_layer_norm")
            self_maps.append(sp)
            cross_maps.append(cp)
        cache["len"] = t + 1
        return self.logits(x)[:, 0], self_maps, cross_maps

    @staticmethod
    def reorder(cache, index):
        cache["self"] = [(k[index], v[index]) for k, v in cache["self"]]
        cache["cross"] = [(k[index], v[index]) for k, v in cache["cross"]]
        cache["cross_mask"] = cache["cross_mask"][index]


def reference_logits_with_torch_layers(cfg, twin, src, src_mask, tgt_in):
    """An independent forward from torch.nn.TransformerEncoderLayer/DecoderLayer (post-norm,
    dropout 0) with the same weights: checks the twin's layer wiring."""
    d, act = cfg["d_model"], activation(cfg["activation_function"])
    p = twin.p

    def load_mha(mha, pre):
        mha.in_proj_weight.copy_(torch.cat([p[pre + n + ".weight"] for n in ("q_proj", "k_proj",
                                                                            "v_proj")]))
        mha.in_proj_bias.copy_(torch.cat([p[pre + n + ".bias"] for n in ("q_proj", "k_proj",
                                                                        "v_proj")]))
        mha.out_proj.weight.copy_(p[pre + "out_proj.weight"])
        mha.out_proj.bias.copy_(p[pre + "out_proj.bias"])

    def load_ln(ln, name):
        ln.weight.copy_(p[name + ".weight"])
        ln.bias.copy_(p[name + ".bias"])

    def load_ffn(layer, pre):
        layer.linear1.weight.copy_(p[pre + "fc1.weight"])
        layer.linear1.bias.copy_(p[pre + "fc1.bias"])
        layer.linear2.weight.copy_(p[pre + "fc2.weight"])
        layer.linear2.bias.copy_(p[pre + "fc2.bias"])

    pad_keys = src_mask == 0
    with torch.no_grad():
        x = F.embedding(src, twin.enc_embed) * twin.scale + twin.enc_pos[:src.shape[1]]
        for l in range(cfg["encoder_layers"]):
            pre = f"model.encoder.layers.{l}."
            layer = nn.TransformerEncoderLayer(d, cfg["encoder_attention_heads"],
                                               cfg["encoder_ffn_dim"], dropout=0.0,
                                               activation=act, layer_norm_eps=LAYER_NORM_EPS,
                                               batch_first=True, norm_first=False)
            load_mha(layer.self_attn, pre + "self_attn.")
            load_ln(layer.norm1, pre + "self_attn_layer_norm")
            load_ffn(layer, pre)
            load_ln(layer.norm2, pre + "final_layer_norm")
            layer.train()  # the plain (non fast-path) code
            x = layer(x, src_key_padding_mask=pad_keys)
        memory = x
        tt = tgt_in.shape[1]
        y = F.embedding(tgt_in, twin.dec_embed) * twin.scale + twin.dec_pos[:tt]
        causal = torch.triu(torch.full((tt, tt), float("-inf")), diagonal=1)
        for l in range(cfg["decoder_layers"]):
            pre = f"model.decoder.layers.{l}."
            layer = nn.TransformerDecoderLayer(d, cfg["decoder_attention_heads"],
                                               cfg["decoder_ffn_dim"], dropout=0.0,
                                               activation=act, layer_norm_eps=LAYER_NORM_EPS,
                                               batch_first=True, norm_first=False)
            load_mha(layer.self_attn, pre + "self_attn.")
            load_ln(layer.norm1, pre + "self_attn_layer_norm")
            load_mha(layer.multihead_attn, pre + "encoder_attn.")
            load_ln(layer.norm2, pre + "encoder_attn_layer_norm")
            load_ffn(layer, pre)
            load_ln(layer.norm3, pre + "final_layer_norm")
            layer.train()
            y = layer(y, memory, tgt_mask=causal, memory_key_padding_mask=pad_keys)
        return twin.logits(y)


# ----------------------------------------------------------------------------------------------
# Generation: GenerationMixin.generate of transformers 4.56 for an encoder-decoder model.
#
# Logits processors built from the generation config, in HF's order: NoBadWordsLogitsProcessor
# (bad_words_ids [[pad]]: that column -> -inf), ForcedEOSTokenLogitsProcessor (when the sequence
# holds max_length - 1 tokens, every column but eos -> -inf and eos -> 0), then
# LogitNormalization (log_softmax) when renormalize_logits. Greedy applies them to the raw
# logits; beam search to log_softmax(logits).

def process_scores(scores, cur_len, gen):
    """scores [N, V] float32; cur_len = tokens in the sequence so far (start token included)."""
    scores = scores.clone()
    for bad in gen.get("bad_words_ids") or []:
        if len(bad) == 1 and bad[0] != gen["eos_token_id"]:
            scores[:, bad[0]] = float("-inf")
    forced = gen.get("forced_eos_token_id")
    if forced is not None and cur_len == gen["max_length"] - 1:
        scores = torch.full_like(scores, float("-inf"))
        scores[:, forced] = 0.0
    if gen.get("renormalize_logits"):
        scores = torch.log_softmax(scores, dim=-1)
    return scores


def resolve_max_length(gen, overrides):
    """max_new_tokens wins over max_length; max_length counts the decoder start token."""
    g = dict(gen)
    for k, default in (("length_penalty", 1.0), ("early_stopping", False),
                       ("num_return_sequences", 1)):  # GenerationConfig's defaults
        g.setdefault(k, default)
    g.update({k: v for k, v in overrides.items() if k != "max_new_tokens"})
    if overrides.get("max_new_tokens") is not None:
        g["max_length"] = overrides["max_new_tokens"] + 1
    return g


def greedy(twin, src, g):
    """_sample with do_sample False for one sentence. Returns ids (start token first, eos
    included), the sum of the processed scores of the chosen tokens, and the per-step maps."""
    src_mask = torch.ones_like(src)
    memory, _ = twin.encode(src, src_mask)
    cache = twin.start_cache(memory, src_mask)
    ids = [g["decoder_start_token_id"]]
    total, steps = 0.0, []
    while True:
        logits, sm, cm = twin.step(torch.tensor([ids[-1]]), cache)
        scores = process_scores(logits.float(), len(ids), g)
        tok = int(torch.argmax(scores[0]))
        total += float(scores[0, tok])
        ids.append(tok)
        steps.append((logits[0], sm, cm))
        if tok == g["eos_token_id"] or len(ids) >= g["max_length"]:
            break
    return ids, total, steps


def beam_search(twin, src, g, num_return_sequences=1):
    """_beam_search (the vectorized version of 4.50+) for one sentence, batch dimension kept.
    Returns [(ids, score, maps)] best first; maps follow each hypothesis through its beam
    indices (the KV cache is reordered the same way)."""
    nb = g["num_beams"]
    lp = g.get("length_penalty", 1.0)
    early = g.get("early_stopping", False)
    max_length = g["max_length"]
    eos, pad = g["eos_token_id"], g["pad_token_id"]
    vocab = twin.lm_head.shape[0]
    keep = 2 * nb  # max(2, 1 + number of eos ids) * num_beams
    top_mask = torch.cat([torch.ones(nb, dtype=torch.bool), torch.zeros(keep - nb,
                                                                        dtype=torch.bool)])
    src_b = src.expand(nb, -1)
    src_mask = torch.ones_like(src_b)
    memory, _ = twin.encode(src_b, src_mask)
    cache = twin.start_cache(memory, src_mask)
    prompt = 1
    cur_len = prompt
    running = torch.full((1, nb, max_length), pad, dtype=torch.int64)
    running[:, :, 0] = g["decoder_start_token_id"]
    finished = running.clone()
    running_scores = torch.zeros((1, nb))
    running_scores[:, 1:] = -1e9
    finished_scores = torch.full((1, nb), -1e9)
    is_finished = torch.zeros((1, nb), dtype=torch.bool)
    unsatisfied = torch.ones((1, 1), dtype=torch.bool)
    # per running beam: its maps so far (list over steps of per-layer [H, t] rows)
    running_maps = [[] for _ in range(nb)]
    finished_maps = [None] * nb
    while True:
        logits, sm, cm = twin.step(running[0, :, cur_len - 1], cache)
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        log_probs = process_scores(log_probs, cur_len, g)
        acc = (log_probs.view(1, nb, vocab) + running_scores[:, :, None]).view(1, nb * vocab)
        topk_scores, topk_idx = torch.topk(acc, k=keep)
        src_beam = topk_idx // vocab
        topk_ids = topk_idx % vocab
        topk_seqs = torch.take_along_dim(running, src_beam[:, :, None], dim=1)
        topk_seqs[:, :, cur_len] = topk_ids
        step_maps = [(
            [m[b, :, 0].clone() for m in sm], [m[b, :, 0].clone() for m in cm])
            for b in range(nb)]
        topk_maps = [running_maps[int(b)] + [step_maps[int(b)]] for b in src_beam[0]]
        hits = (topk_ids == eos) | torch.full_like(topk_ids, cur_len + 1 >= max_length,
                                                   dtype=torch.bool)
        # e. the running beams of the next step: the best non-finished candidates
        run_scores = topk_scores + hits.float() * -1.0e9
        nxt = torch.topk(run_scores, k=nb)[1]
        running = torch.take_along_dim(topk_seqs, nxt[:, :, None], dim=1)
        running_scores = torch.take_along_dim(run_scores, nxt, dim=1)
        chosen_src = torch.take_along_dim(src_beam, nxt, dim=1)[0]
        running_maps = [topk_maps[int(i)] for i in nxt[0]]
        # f. the finished beams: candidates in the top num_beams ranks that hit a stopping
        # criterion, length-penalized by the generated length (eos included)
        just = hits & top_mask[None, :]
        cand = topk_scores / ((cur_len + 1 - prompt) ** lp)
        full = is_finished.all(dim=-1, keepdim=True) & (early is True)
        cand = cand + full.float() * -1.0e9
        cand = cand + (~unsatisfied).float() * -1.0e9
        cand = cand + (~just).float() * -1.0e9
        merged_seqs = torch.cat([finished, topk_seqs], dim=1)
        merged_scores = torch.cat([finished_scores, cand], dim=1)
        merged_fin = torch.cat([is_finished, just], dim=1)
        merged_maps = finished_maps + topk_maps
        top = torch.topk(merged_scores, k=nb)[1]
        finished = torch.take_along_dim(merged_seqs, top[:, :, None], dim=1)
        finished_scores = torch.take_along_dim(merged_scores, top, dim=1)
        is_finished = torch.take_along_dim(merged_fin, top, dim=1)
        finished_maps = [merged_maps[int(i)] for i in top[0]]
        # g. reorder the cache, advance, and decide whether to go on
        MarianTwin.reorder(cache, chosen_src)
        cur_len += 1
        if early == "never" and lp > 0.0:
            best_len = max_length - prompt
        else:
            best_len = cur_len - prompt
        best_possible = running_scores[:, :1] / (best_len ** lp)
        worst = torch.where(is_finished, finished_scores.min(dim=1, keepdim=True)[0],
                            torch.tensor(-1.0e9))
        unsatisfied = unsatisfied & (best_possible > worst).any(dim=-1, keepdim=True)
        improvement = bool(unsatisfied.any())
        open_beam = not (bool(is_finished.all()) and early is True)
        valid = not bool(hits.all())
        if not (improvement and open_beam and valid):
            break
    out = []
    for r in range(num_return_sequences):
        seq = finished[0, r].tolist()
        n = next((i + 1 for i, t in enumerate(seq[1:], 1) if t == eos), None)
        n = n if n is not None else len(seq)
        out.append((seq[:n], float(finished_scores[0, r]), finished_maps[r]))
    return out


# ----------------------------------------------------------------------------------------------
# Random weights with outputs that are peaked but not degenerate.

def init_params(v, vocab_size):
    g = torch.Generator().manual_seed(v["seed"])
    d, ffn = v["d_model"], v["ffn"]

    def normal(*shape, std):
        return torch.randn(*shape, generator=g) * std

    def lin(out_f, in_f):
        return normal(out_f, in_f, std=1.0 / math.sqrt(in_f)), normal(out_f, std=0.1)

    p = {}
    emb_std = v["weight_std"] if v["scale_embedding"] else v["weight_std"] * math.sqrt(d)
    names = (["model.shared.weight"] if not v["separate"]
             else ["model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"])
    for n in names:
        p[n] = normal(vocab_size, d, std=emb_std / math.sqrt(d))
    if v["pad_row_zero"]:
        for n in names:
            p[n][vocab_size - 1] = 0.0  # the converter appends a zero row for <pad>
    if not v["tie"]:
        p["lm_head.weight"] = normal(vocab_size, d, std=v["weight_std"] / math.sqrt(d))
    bias = normal(1, vocab_size, std=0.5)
    bias[0, 0] += v["eos_bias"]  # eos: some sentences end early, some run to the limit
    p["final_logits_bias"] = bias
    # eos becomes likelier with the position: its output row leans on the direction
    # sin(w·pos) − cos(w·pos) of the sinusoid (w ≈ 0.1), which the residual path carries
    half, i = d // 2, max(1, round(d / 8))
    out_row = p["lm_head.weight"] if not v["tie"] else p[names[-1]]
    out_row[0, i] += v["eos_ramp"]
    out_row[0, half + i] -= v["eos_ramp"]

    def ln(name):
        p[name + ".weight"] = 1.0 + normal(d, std=0.1)
        p[name + ".bias"] = normal(d, std=0.1)

    def attn(pre, out_scale):
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            w, b = lin(d, d)
            if n in ("q_proj", "k_proj"):
                w = w * 2.0  # sharper attention maps
            if n == "out_proj":
                w = w * out_scale
            p[f"{pre}.{n}.weight"], p[f"{pre}.{n}.bias"] = w, b

    for side, n_layers in (("encoder", v["enc_layers"]), ("decoder", v["dec_layers"])):
        for l in range(n_layers):
            pre = f"model.{side}.layers.{l}"
            sub = v["dec_sublayer_scale"] if side == "decoder" else 1.0
            attn(pre + ".self_attn", sub)
            ln(pre + ".self_attn_layer_norm")
            if side == "decoder":
                attn(pre + ".encoder_attn", v["cross_scale"])
                ln(pre + ".encoder_attn_layer_norm")
            p[pre + ".fc1.weight"], p[pre + ".fc1.bias"] = lin(ffn, d)
            w, b = lin(d, ffn)
            p[pre + ".fc2.weight"], p[pre + ".fc2.bias"] = w * sub, b
            ln(pre + ".final_layer_norm")
    if v["embed_positions_in_file"]:
        pos = sinusoidal_positions(v["max_position_embeddings"], d)
        p["model.encoder.embed_positions.weight"] = pos.clone()
        p["model.decoder.embed_positions.weight"] = pos.clone()
    return p


def stored(p, dtype):
    """What the file holds (F16 rounds), and what HF computes with after loading it into a
    float32 model (the default torch_dtype of 4.x)."""
    if dtype == "F16":
        return {k: t.half() for k, t in p.items()}, {k: t.half().float() for k, t in p.items()}
    return p, p


# ----------------------------------------------------------------------------------------------
# One variant: the model directory, the twin's outputs, the checks, the golden files.

def model_config(v, vocab_size):
    pad = vocab_size - 1
    cfg = {
        "activation_dropout": 0.0,
        "activation_function": v["activation"],
        "add_bias_logits": False,
        "add_final_layer_norm": False,
        "architectures": ["MarianMTModel"],
        "attention_dropout": 0.0,
        "bad_words_ids": [[pad]],
        "bos_token_id": 0,
        "classif_dropout": 0.0,
        "classifier_dropout": 0.0,
        "d_model": v["d_model"],
        "decoder_attention_heads": v["heads"],
        "decoder_ffn_dim": v["ffn"],
        "decoder_layerdrop": 0.0,
        "decoder_layers": v["dec_layers"],
        "decoder_start_token_id": pad,
        "decoder_vocab_size": vocab_size,
        "dropout": 0.1,
        "encoder_attention_heads": v["heads"],
        "encoder_ffn_dim": v["ffn"],
        "encoder_layerdrop": 0.0,
        "encoder_layers": v["enc_layers"],
        "eos_token_id": 0,
        "extra_pos_embeddings": vocab_size,
        "forced_eos_token_id": 0,
        "gradient_checkpointing": False,
        "id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"},
        "init_std": 0.02,
        "is_encoder_decoder": True,
        "label2id": {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2},
        "max_length": v["gen"]["max_length"],
        "max_position_embeddings": v["max_position_embeddings"],
        "model_type": "marian",
        "normalize_before": False,
        "normalize_embedding": False,
        "num_beams": v["gen"]["num_beams"],
        "num_hidden_layers": v["enc_layers"],
        "pad_token_id": pad,
        "scale_embedding": v["scale_embedding"],
        "share_encoder_decoder_embeddings": not v["separate"],
        "static_position_embeddings": True,
        "torch_dtype": "float16" if v["dtype"] == "F16" else "float32",
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": vocab_size,
    }
    if not v["tie"]:
        cfg["tie_word_embeddings"] = False
    return cfg


def generation_config(v, vocab_size):
    pad = vocab_size - 1
    return {
        "bad_words_ids": [[pad]],
        "bos_token_id": 0,
        "decoder_start_token_id": pad,
        "eos_token_id": 0,
        "forced_eos_token_id": 0,
        "max_length": v["gen"]["max_length"],
        "num_beams": v["gen"]["num_beams"],
        "pad_token_id": pad,
        "renormalize_logits": True,
        "transformers_version": TRANSFORMERS_VERSION,
    }


def tokenizer_config(v, vocab_size):
    """What save_pretrained writes: the init kwargs, less the file names (vocab_files_names)."""
    def added(tok):
        return {"content": tok, "lstrip": False, "normalized": False, "rstrip": False,
                "single_word": False, "special": True}

    return {
        "added_tokens_decoder": {"0": added("</s>"), "1": added("<unk>"),
                                 str(vocab_size - 1): added("<pad>")},
        "clean_up_tokenization_spaces": v["clean_up"],
        "eos_token": "</s>",
        "extra_special_tokens": {},
        "model_max_length": 512,
        "pad_token": "<pad>",
        "separate_vocabs": v["separate"],
        "source_lang": v["source_lang"],
        "sp_model_kwargs": {},
        "target_lang": v["target_lang"],
        "tokenizer_class": "MarianTokenizer",
        "unk_token": "<unk>",
    }


def max_abs(a, b):
    return float((a - b).abs().max()) if a.numel() else 0.0


def close(a, b, tol=1e-5):
    """|a - b| <= tol * max(1, max|b|): float32 sums in another order."""
    return max_abs(a, b) <= tol * max(1.0, float(b.abs().max()))


def check_cached_equals_full(twin, src, ids, step_maps, label):
    """The KV-cached steps (logits and maps) against one teacher-forced forward over ids."""
    src_mask = torch.ones_like(src)
    tgt_in = torch.tensor([ids[:-1]])
    logits, _, self_maps, cross_maps = twin.forward(src, src_mask, tgt_in)
    worst = 0.0
    for t, (step_logits, sm, cm) in enumerate(step_maps):
        if step_logits is not None:
            assert close(step_logits, logits[0, t]), (label, t, max_abs(step_logits, logits[0, t]))
        for l in range(len(sm)):
            worst = max(worst, max_abs(sm[l].reshape(-1, t + 1), self_maps[l][0, :, t, :t + 1]))
            worst = max(worst, max_abs(cm[l].reshape(-1, src.shape[1]), cross_maps[l][0, :, t]))
    assert worst < 2e-5, (label, worst)
    return logits[0], self_maps, cross_maps, worst


def f32(t):
    return t.detach().to(torch.float32).contiguous().numpy()


def i64(x):
    return np.asarray(x, dtype=np.int64)


class Built:
    """One variant's tokenizer files, configs, weights and twin (nothing written yet)."""

    def __init__(self, v):
        self.v = v
        self.src_proto = train_spm(v["src_text"], v["src_vocab"], v["src_norm"])
        self.tgt_proto = train_spm(v["tgt_text"], v["tgt_vocab"], "identity")
        assert self.src_proto == train_spm(v["src_text"], v["src_vocab"], v["src_norm"]), \
            "spm training is not deterministic"
        lang = LANG_TOKENS if v["lang_tokens"] else []
        if v["separate"]:
            self.vocab = marian_vocab([spm_pieces(self.src_proto)], lang)
            self.target_vocab = marian_vocab([spm_pieces(self.tgt_proto)], lang)
            assert len(self.vocab) == len(self.target_vocab), (len(self.vocab),
                                                               len(self.target_vocab))
        else:
            self.vocab = marian_vocab([spm_pieces(self.src_proto), spm_pieces(self.tgt_proto)],
                                      lang)
            self.target_vocab = None
        self.vocab_size = len(self.vocab)
        self.tok = MarianTokenizerTwin(self.src_proto, self.tgt_proto, self.vocab,
                                       self.target_vocab, v["clean_up"])
        self.cfg = model_config(v, self.vocab_size)
        self.gen = generation_config(v, self.vocab_size)
        self.params = init_params(v, self.vocab_size)
        self.file_params, self.run_params = stored(self.params, v["dtype"])
        self.twin = MarianTwin(self.cfg, self.run_params)

    def sentences(self):
        """(index in SENTENCES, source, target) for the sentences this vocabulary can carry."""
        return [(i, s, t) for i, (s, t) in enumerate(SENTENCES)
                if self.v["lang_tokens"] or not s.startswith(">>")]

    def write_model_dir(self, mdir):
        v = self.v
        with open(os.path.join(mdir, "source.spm"), "wb") as f:
            f.write(self.src_proto)
        with open(os.path.join(mdir, "target.spm"), "wb") as f:
            f.write(self.tgt_proto)
        write_vocab_json(os.path.join(mdir, "vocab.json"), self.vocab)
        if self.target_vocab is not None:
            write_vocab_json(os.path.join(mdir, "target_vocab.json"), self.target_vocab)
        write_tokenizer_json(os.path.join(mdir, "tokenizer_config.json"),
                             tokenizer_config(v, self.vocab_size))
        write_tokenizer_json(os.path.join(mdir, "special_tokens_map.json"),
                             {"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"})
        write_config_json(os.path.join(mdir, "config.json"), self.cfg)
        write_config_json(os.path.join(mdir, "generation_config.json"), self.gen)
        np_dtype = np.float16 if v["dtype"] == "F16" else np.float32
        write_safetensors(os.path.join(mdir, "model.safetensors"),
                          [(k, self.file_params[k].numpy().astype(np_dtype))
                           for k in sorted(self.file_params)], {"format": "pt"})


def build_variant(v, out_root):
    torch.manual_seed(v["seed"])
    name = v["name"]
    vdir = os.path.join(out_root, name)
    mdir = os.path.join(vdir, "model")
    if os.path.isdir(vdir):
        shutil.rmtree(vdir)
    os.makedirs(mdir)
    built = Built(v)
    built.write_model_dir(mdir)
    tok, cfg, gen, twin = built.tok, built.cfg, built.gen, built.twin
    vocab_size = built.vocab_size

    # -- tokenization --------------------------------------------------------------------------
    sentences = built.sentences()
    golden = {"variant": name, "transformers_version_followed": TRANSFORMERS_VERSION,
              "torch_version": torch.__version__, "sentencepiece_version": spm.__version__,
              "vocab_size": vocab_size, "pad_token_id": vocab_size - 1, "eos_token_id": 0,
              "generation_config": gen, "cases": [], "tokenizer_cases": [], "batch": {},
              "tensors": []}
    tensors = []

    def put(tname, arr):
        tensors.append((tname, arr))
        golden["tensors"].append(tname)

    for text in TOKENIZER_CASES:
        pieces, ids = tok.encode(text)
        golden["tokenizer_cases"].append({"text": text, "pieces": pieces, "ids": ids})
    # decode(skip_special_tokens=True) of hand-made id lists: a language token and a piece that
    # target.spm does not know (a source-side piece of the joint vocabulary) come out verbatim,
    # ▁ becomes a space; <unk>, </s> and <pad> are dropped wherever they are
    golden["decode_cases"] = []
    tgt_ids = tok.encode(SENTENCES[0][1], target=True)[1][:-1]
    tgt_spm_pieces = set(spm_pieces(built.tgt_proto))
    enc = built.vocab if built.target_vocab is None else built.target_vocab
    foreign = [p for p in enc if p not in tgt_spm_pieces and p not in MarianTokenizerTwin.SPECIAL]
    lang_foreign = [p for p in foreign if p in LANG_TOKENS][:1]
    spm_foreign = [p for p in foreign if p not in LANG_TOKENS][:1]  # a source-side piece
    extra = [enc[f] for f in lang_foreign + spm_foreign]
    pad = cfg["pad_token_id"]
    for ids in ([pad] + tgt_ids + [0],
                [pad] + extra + tgt_ids[:2] + [1] + tgt_ids[2:] + [0, pad],
                [pad, 0]):
        golden["decode_cases"].append({"ids": ids, "text": tok.decode(ids)})

    # -- per sentence: teacher forcing, greedy, beam -----------------------------------------
    worst_cache, checks = 0.0, 0
    for ci, src_text, tgt_text in sentences:
        pieces, src_ids = tok.encode(src_text)
        tgt_pieces, labels = tok.encode(tgt_text, target=True)
        tgt_in = [cfg["decoder_start_token_id"]] + labels[:-1]  # shift_tokens_right
        src = torch.tensor([src_ids])
        src_mask = torch.ones_like(src)
        logits, enc_maps, self_maps, cross_maps = twin.forward(src, src_mask,
                                                               torch.tensor([tgt_in]))
        ref = reference_logits_with_torch_layers(cfg, twin, src, src_mask, torch.tensor([tgt_in]))
        assert close(ref, logits), ("torch layers", name, ci, max_abs(ref, logits))
        case = {"index": ci, "source": src_text, "source_pieces": pieces, "source_ids": src_ids,
                "target": tgt_text, "target_pieces": tgt_pieces, "labels": labels,
                "decoder_input_ids": tgt_in,
                "unknown_pieces": [p for p, i in zip(pieces, src_ids) if i == tok.unk_id]}
        pre = f"case.{ci}."
        put(pre + "source_ids", i64(src_ids))
        put(pre + "tf.decoder_input_ids", i64(tgt_in))
        put(pre + "tf.labels", i64(labels))
        put(pre + "tf.logits", f32(logits[0]))
        for l, m in enumerate(enc_maps):
            put(pre + f"attn.encoder_self.{l}", f32(m[0]))
        # (the maps of this teacher-forced pass are in batch.* for the batched cases)

        overrides = {"max_new_tokens": LONG_MAX_NEW_TOKENS} if ci == LONG_CASE else {}
        runs = []

        def beam_run(run_name, over):
            """Beam search with these overrides; the maps of its best hypothesis checked against
            one teacher-forced pass over it."""
            nonlocal worst_cache, checks
            g = resolve_max_length(gen, over)
            hyps = beam_search(twin, src, g, num_return_sequences=g["num_return_sequences"])
            steps = [(None, [m.reshape(m.shape[0], 1, -1) for m in smaps],
                      [m.reshape(m.shape[0], 1, -1) for m in cmaps])
                     for smaps, cmaps in hyps[0][2]]
            _, sm, cm, w = check_cached_equals_full(twin, src, hyps[0][0], steps,
                                                    (name, ci, run_name))
            worst_cache, checks = max(worst_cache, w), checks + 1
            runs.append((run_name, over, g, hyps, (sm, cm)))

        # greedy: the generation config with num_beams overridden to 1
        g = resolve_max_length(gen, dict(overrides, num_beams=1))
        ids, score, steps = greedy(twin, src, g)
        _, sm, cm, w = check_cached_equals_full(twin, src, ids, steps, (name, ci, "greedy"))
        worst_cache, checks = max(worst_cache, w), checks + 1
        runs.append(("greedy", dict(overrides, num_beams=1), g, [(ids, score, None)], (sm, cm)))
        # beam search with num_beams 1 is greedy: the same ids, the score divided by the length
        b1 = beam_search(twin, src, resolve_max_length(gen, dict(overrides, num_beams=1)))
        assert b1[0][0] == ids, ("beam 1 != greedy", name, ci, b1[0][0], ids)
        assert abs(b1[0][1] * (len(ids) - 1) - score) < 1e-4, ("beam 1 score", b1[0][1], score)
        # beam search as the generation config says (num_beams from it), every hypothesis kept
        beam_run("beam", dict(overrides, num_return_sequences=gen["num_beams"]))
        # variant b also runs beam search with a length penalty and early stopping overridden
        if v["separate"]:
            beam_run("beam_lp", dict(overrides, num_beams=3, length_penalty=0.6,
                                     early_stopping=True, num_return_sequences=2))

        case["runs"] = {}
        for run_name, over, g, hyps, (sm_, cm_) in runs:
            entry = {"overrides": over,
                     "effective": {k: g.get(k) for k in ("num_beams", "max_length",
                                                         "length_penalty", "early_stopping",
                                                         "num_return_sequences",
                                                         "renormalize_logits",
                                                         "forced_eos_token_id",
                                                         "bad_words_ids")},
                     "hypotheses": []}
            for r, (ids_r, score_r, _) in enumerate(hyps):
                generated = len(ids_r) - 1
                ended = ("eos" if ids_r[-1] == 0 and generated < g["max_length"] - 1
                         else "forced_eos_at_max_length" if ids_r[-1] == 0 else "max_length")
                entry["hypotheses"].append({
                    "ids": ids_r, "score": score_r, "generated_tokens": generated,
                    "ended_by": ended, "text": tok.decode(ids_r),
                    "pieces": [tok.decoder.get(i, "<unk>") for i in ids_r]})
                put(pre + f"{run_name}.ids.{r}", i64(ids_r))
            put(pre + f"{run_name}.scores", np.array([h[1] for h in hyps], dtype=np.float32))
            if run_name != "beam_lp":  # for that one, ids and scores check the length penalty
                for l, m in enumerate(sm_):
                    put(pre + f"{run_name}.attn.decoder_self.{l}", f32(m[0]))
                for l, m in enumerate(cm_):
                    put(pre + f"{run_name}.attn.cross.{l}", f32(m[0]))
            case["runs"][run_name] = entry
        golden["cases"].append(case)

    # -- one padded batch: the tokenizer pads on the right with <pad>, attention_mask 0 there;
    # the decoder inputs are padded with <pad> too and (as in HF) not masked ------------------
    batch_idx = [0, 4]
    enc = [tok.encode(SENTENCES[i][0])[1] for i in batch_idx]
    dec = [[cfg["decoder_start_token_id"]] + tok.encode(SENTENCES[i][1], target=True)[1][:-1]
           for i in batch_idx]
    ts, tt = max(map(len, enc)), max(map(len, dec))
    pad = cfg["pad_token_id"]
    src = torch.tensor([e + [pad] * (ts - len(e)) for e in enc])
    src_mask = torch.tensor([[1] * len(e) + [0] * (ts - len(e)) for e in enc])
    tgt_in = torch.tensor([d + [pad] * (tt - len(d)) for d in dec])
    logits, enc_maps, self_maps, cross_maps = twin.forward(src, src_mask, tgt_in)
    ref = reference_logits_with_torch_layers(cfg, twin, src, src_mask, tgt_in)
    real = torch.tensor([[1] * len(d) + [0] * (tt - len(d)) for d in dec]).bool()
    assert close(ref[real], logits[real]), ("torch layers batch", name)
    for r, i in enumerate(batch_idx):  # a padded row equals the sentence alone
        one = next(c for c in golden["cases"] if c["index"] == i)
        n = len(one["decoder_input_ids"])
        alone, _, _, _ = twin.forward(torch.tensor([one["source_ids"]]),
                                      torch.ones(1, len(one["source_ids"]), dtype=torch.int64),
                                      torch.tensor([one["decoder_input_ids"]]))
        assert close(alone[0], logits[r, :n]), ("padding changes a row", name, i,
                                                max_abs(alone[0], logits[r, :n]))
        assert float(cross_maps[0][r, :, :, len(one["source_ids"]):].abs().max()
                     if ts > len(one["source_ids"]) else 0.0) == 0.0
    golden["batch"] = {"cases": batch_idx, "source_ids": src.tolist(),
                       "attention_mask": src_mask.tolist(), "decoder_input_ids": tgt_in.tolist()}
    put("batch.source_ids", i64(src))
    put("batch.attention_mask", i64(src_mask))
    put("batch.decoder_input_ids", i64(tgt_in))
    put("batch.logits", f32(logits))
    for l, m in enumerate(enc_maps):
        put(f"batch.attn.encoder_self.{l}", f32(m))
    for l, m in enumerate(self_maps):
        put(f"batch.attn.decoder_self.{l}", f32(m))
    for l, m in enumerate(cross_maps):
        put(f"batch.attn.cross.{l}", f32(m))

    write_safetensors(os.path.join(vdir, "golden.safetensors"), tensors,
                      {"variant": name, "transformers_version_followed": TRANSFORMERS_VERSION,
                       "torch_version": torch.__version__})
    with open(os.path.join(vdir, "golden.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")

    # -- read back and report ------------------------------------------------------------------
    back, _ = read_safetensors(os.path.join(vdir, "golden.safetensors"))
    assert set(back) == set(golden["tensors"])
    sizes = {}
    for dirpath, _, files in os.walk(vdir):
        for fn in files:
            sizes[os.path.relpath(os.path.join(dirpath, fn), vdir)] = os.path.getsize(
                os.path.join(dirpath, fn))
    print(f"{name}: V={vocab_size} d={v['d_model']} layers={v['enc_layers']}+{v['dec_layers']} "
          f"heads={v['heads']} act={v['activation']} {v['dtype']}; cache==full worst "
          f"{worst_cache:.2e} over {checks} runs; {sum(sizes.values())} bytes")
    for c in golden["cases"]:
        desc = []
        for rn, e in c["runs"].items():
            h = e["hypotheses"][0]
            desc.append(f"{rn} {h['generated_tokens']} tok/{h['ended_by']}")
        print(f"  case {c['index']}: src {len(c['source_ids'])} ids, unk {c['unknown_pieces']}; "
              + "; ".join(desc))
        for rn, e in c["runs"].items():
            print(f"      {rn}: {e['hypotheses'][0]['text']!r}")
    return sizes


def compare_trees(a, b):
    """Files that differ between two fixture trees (missing on either side included)."""
    def files(root):
        return {os.path.relpath(os.path.join(d, f), root)
                for d, _, fs in os.walk(root) for f in fs}
    diff = []
    for rel in sorted(files(a) | files(b)):
        pa, pb = os.path.join(a, rel), os.path.join(b, rel)
        if not (os.path.isfile(pa) and os.path.isfile(pb)):
            diff.append(rel + " (only on one side)")
        else:
            with open(pa, "rb") as fa, open(pb, "rb") as fb:
                if fa.read() != fb.read():
                    diff.append(rel)
    return diff


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="where the variant folders go")
    ap.add_argument("--check", action="store_true",
                    help="write to a temporary folder and compare with --out byte for byte")
    args = ap.parse_args()
    torch.set_num_threads(1)  # fixed reduction order: the same bytes on every run
    print(f"torch {torch.__version__}, numpy {np.__version__}, sentencepiece {spm.__version__}; "
          f"semantics of transformers {TRANSFORMERS_VERSION}")
    out = tempfile.mkdtemp(prefix="marian-fixtures-") if args.check else args.out
    os.makedirs(out, exist_ok=True)
    total = 0
    for v in VARIANTS:
        total += sum(build_variant(v, out).values())
    print(f"total {total} bytes")
    assert total < 2_000_000, total
    if args.check:
        diff = compare_trees(out, args.out)
        shutil.rmtree(out)
        if diff:
            print(f"{len(diff)} files differ from {args.out}: " + ", ".join(diff))
            return 1
        print(f"identical to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
