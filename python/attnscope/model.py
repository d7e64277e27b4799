"""attnscope.load and attnscope.Model: a model directory, its translation and its forward pass."""

import json

import numpy as np

from . import _args
from ._attnscope import _Model
from .result import ForwardOutput, Result

_KINDS = _args.KINDS


def load(path):
    """Loads a model directory: config.json, model.safetensors and its tokenizers.

    Any architecture the engine reads (see docs/architecture.md, "Architectures"). Raises
    attnscope.Error naming the file that is missing or wrong, TypeError when path is not a path.
    """
    return Model(_args.path("path", path))


class Model:
    """A translation model loaded from a directory (attnscope.load).

    Attributes: path, arch, config (config.json as a dict), info (vocabularies, special ids,
    max_len, heads, d_model), num_layers ({kind: layers}), num_heads, d_model, max_len,
    src_vocab_size, tgt_vocab_size, num_parameters.

    One call at a time runs on a model (calls from several threads wait for each other); the GIL
    is released while it runs, so other Python threads, and other models, run meanwhile.
    """

    def __init__(self, path):
        self.path = _args.path("path", path)
        self._native = _Model(self.path)
        self.info = self._native.info()
        self.config = json.loads(self._native.config_json())
        self.arch = self.info["arch"]
        self.num_layers = {k: self._native.num_layers(k) for k in _KINDS}
        self.num_heads = self.info["heads"]
        self.d_model = self.info["d_model"]
        self.max_len = self.info["max_len"]
        self.src_vocab_size = self.info["src_vocab"]
        self.tgt_vocab_size = self.info["tgt_vocab"]
        self.num_parameters = self._native.num_parameters()

    def __repr__(self):
        return (
            f"attnscope.Model({self.path!r}): {self.arch}, {self._native.summary()}; "
            f"vocabulary {self.src_vocab_size} → {self.tgt_vocab_size}; "
            f"{self.num_parameters:,} parameters"
        )

    # ---- translation ------------------------------------------------------------------------

    def translate(
        self,
        sentences,
        *,
        beam=None,
        nbest=None,
        attention=False,
        length_penalty=None,
        max_new_tokens=None,
        max_len=None,
        max_len_ratio=None,
        max_len_extra=None,
        batch_size=32,
    ):
        """Translates a sentence (→ Result) or a list of sentences (→ list of Result).

        Left unset, a setting is the model's default, as on the CLI: for an OPUS-MT (Hugging
        Face Marian) model its generation config (num_beams, max_length, length_penalty, …),
        for attnscope's own models beam 1, nbest 1, length_penalty 1.

        beam: beam size (1: greedy). nbest: hypotheses kept per sentence (≤ beam), in
        Result.hypotheses. length_penalty: the beam ranks by log P / length^α (0: none).
        Output length: max_new_tokens caps the output tokens, </s> included (Hugging Face's
        name; for an OPUS-MT model it replaces max_length). attnscope's own models also take
        max_len_ratio · source tokens + max_len_extra (the CLI's 2.0 and 10), or max_len: at most
        max_len tokens whatever the source's length; never past the model's positions.
        batch_size: sentences decoded together (the CLI's --batch).

        attention: what to capture while decoding — False (nothing), True (every kind, layer
        and head), a kind or list of kinds, or a dict
        {"kinds": [...], "layers": [...], "heads": [...], "reduce": "mean" | "max" | "last"}
        (layers and heads may count from the end: -1 is the last; "last" keeps only the last
        query row). The maps follow the hypothesis that was output, also with beam search:
        Result.attention[kind] is float32 [layers, heads, Tq, Tk], viewing the engine's memory.
        """
        texts, single = _args.sentences(sentences)
        if beam is not None:
            beam = _args.integer("beam", beam, 1, 64)
        if nbest is not None:
            nbest = _args.integer("nbest", nbest, 1, 64 if beam is None else beam)
        if length_penalty is not None:
            length_penalty = _args.real("length_penalty", length_penalty, 0)
        batch_size = _args.integer("batch_size", batch_size, 1)
        if max_new_tokens is not None:
            max_new_tokens = _args.integer("max_new_tokens", max_new_tokens, 1, self.max_len)
        ratio = extra = None
        if max_len is not None:
            if max_len_ratio is not None or max_len_extra is not None:
                raise ValueError("give max_len, or max_len_ratio and max_len_extra, not both")
            if max_new_tokens is not None:
                raise ValueError("give max_len or max_new_tokens, not both")
            ratio, extra = 0.0, _args.integer("max_len", max_len, 1, self.max_len)
        else:
            if max_len_ratio is not None:
                ratio = _args.real("max_len_ratio", max_len_ratio, 0)
            if max_len_extra is not None:
                extra = _args.integer("max_len_extra", max_len_extra, 0)
        spec = _args.capture(attention, self.num_layers, self.num_heads)
        natives = self._native.translate(
            texts, beam, nbest, length_penalty, ratio, extra, max_new_tokens, batch_size, spec
        )
        results = [Result(self, n) for n in natives]
        return results[0] if single else results

    # ---- the forward pass -------------------------------------------------------------------

    def forward(self, src_ids, tgt_ids):
        """One teacher-forced pass (inference: no dropout) → ForwardOutput.

        src_ids: source token ids, one sequence or a batch (rows of any lengths, padded with the
        pad id; a source row should end in the eos id, as encode() gives it). tgt_ids: the
        decoder's inputs, one row per source row, starting with the bos id (encode(text,
        side="target")). The output holds logits [B, Tt, V] and attention[kind]
        [layers, B, heads, Tq, Tk], copies the caller owns (the model reuses its buffers).
        """
        src = _args.token_ids("src_ids", src_ids, self.src_vocab_size, self.info["pad_id"], self.max_len)
        tgt = _args.token_ids("tgt_ids", tgt_ids, self.tgt_vocab_size, self.info["pad_id"], self.max_len)
        if src.shape[0] != tgt.shape[0]:
            raise ValueError(
                f"src_ids has {src.shape[0]} rows but tgt_ids {tgt.shape[0]}: one target per source"
            )
        logits, attention = self._native.forward(src, tgt)
        return ForwardOutput(logits, {k: attention[k] for k in _KINDS if k in attention})

    # ---- text and ids -----------------------------------------------------------------------

    def tokenize(self, text, side="source"):
        """The pieces of text on one side ("source" or "target"), e.g. ['▁9', '▁Oct', ...]."""
        return self._native.pieces(self._native.encode(_text(text), _side(side)), _side(side))

    def encode(self, text, side="source", specials=True):
        """Token ids of text as the model sees them (int32): the source side ends in eos (and is
        cut to max_len), the target side starts with the decoder start token (bos; <pad> for an
        OPUS-MT model): a decoder input for forward(). With
        specials=False: the pieces' ids only."""
        text, side = _text(text), _side(side)
        if not specials:
            ids = self._native.encode(text, side)
        elif side == "source":
            ids = self._native.source_ids(text)
        else:
            ids = [self.info["decoder_start_id"]] + self._native.encode(text, side)
        return np.asarray(ids, dtype=np.int32)

    def decode(self, ids, side="target"):
        """Text of token ids (special ids skipped)."""
        side = _side(side)
        if isinstance(ids, (list, tuple, np.ndarray)) and len(ids) == 0:
            return ""
        vocab = self._native.vocab_size(side)
        ids = _args.token_ids("ids", ids, vocab, 0, 1 << 30)
        if ids.shape[0] != 1:
            raise ValueError("decode() takes one sequence of ids")
        return self._native.decode([int(i) for i in ids[0]], side)


def _side(side):
    if side not in ("source", "target"):
        raise ValueError(f'side must be "source" or "target", not {side!r}')
    return side


def _text(text):
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    return text
