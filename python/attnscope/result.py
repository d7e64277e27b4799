"""What translation and the forward pass give back: Result (one translation, its attention, its
viewer and analyses), Hypothesis, ForwardOutput, Alignment and Picture."""

import os

from . import _args, viewer

_KINDS = _args.KINDS


def _shape(a):
    return "[" + ", ".join(str(d) for d in a.shape) + "]"


class Hypothesis:
    """One hypothesis of a beam (Result.hypotheses, best first).

    text; tokens (output ids, no bos/eos); output_tokens (their pieces); target_tokens (the
    decoder's inputs: <s> and the outputs it was fed, the rows of its maps); score (log P with
    the length penalty, what the beam ranks by); log_prob; finished (ended with eos);
    attention ({kind: float32 [layers, heads, Tq, Tk]}, when captured); layers ({kind: the
    layer indices the arrays hold}); heads (the head indices, [] after a reduction over heads);
    reduction ("none", "mean", "max" or "last").
    """

    def __init__(self, model, native, i):
        h = model._native.hypothesis(native, i)
        self.text = h["text"]
        self.tokens = list(h["tokens"])
        self.output_tokens = list(h["output_tokens"])
        self.target_tokens = list(h["target_tokens"])
        self.score = h["score"]
        self.log_prob = h["log_prob"]
        self.finished = h["finished"]
        a = native.attention(i)
        self.attention = dict(a["maps"])
        self.layers = dict(a["layers"])
        self.heads = list(a["heads"])
        self.reduction = a["reduction"]

    def __repr__(self):
        return f"<attnscope.Hypothesis {self.text!r} score {self.score:.4f}>"


class Result:
    """One translation (Model.translate).

    source, text; source_tokens (the source pieces, ending in </s>: the keys of cross-attention
    and encoder self-attention); target_tokens (the decoder's inputs <s>, y1, …: the query rows of
    the decoder's maps, row t being the step that wrote token t+1); output_tokens (y1, …, the
    pieces written); tokens (their ids); score, log_prob, finished; hypotheses (the n-best, best
    first, this one at [0]).

    attention: {kind: float32 numpy array [layers, heads, Tq, Tk]} for kind in "encoder_self",
    "decoder_self", "cross" as captured (empty without attention=...). The arrays view the
    engine's memory (no copy; read-only; their .base keeps it alive); layers / heads / reduction
    say what they hold after a selection (translate's attention={...}).

    In Jupyter a Result shows as the attention viewer (attention.html, offline); show() does the
    same from code. align(), rollout() and contributions() are the analyses of the CLI;
    heatmap(kind) the pictures; save(dir) the files of `attnscope attention`.
    """

    def __init__(self, model, native):
        self._model = model
        self._native = native
        self.source = native.source
        self.text = native.text
        self.source_tokens = list(native.source_tokens)
        self.target_tokens = list(native.target_tokens)
        self.hypotheses = [Hypothesis(model, native, i) for i in range(native.num_hypotheses)]
        best = self.hypotheses[0] if self.hypotheses else None
        self.tokens = best.tokens if best else []
        self.output_tokens = best.output_tokens if best else []
        self.score = best.score if best else float("-inf")
        self.log_prob = best.log_prob if best else float("-inf")
        self.finished = best.finished if best else False
        self.attention = best.attention if best else {}
        self.layers = best.layers if best else {}
        self.heads = best.heads if best else []
        self.reduction = best.reduction if best else "none"

    def __repr__(self):
        maps = ", ".join(f"{k} {_shape(v)}" for k, v in self.attention.items())
        more = f"; {len(self.hypotheses)} hypotheses" if len(self.hypotheses) > 1 else ""
        return (
            f"<attnscope.Result {self.source!r} → {self.text!r} (score {self.score:.4f}{more}); "
            f"attention: {maps or 'not captured (translate with attention=True)'}>"
        )

    # ---- the viewer and pictures ------------------------------------------------------------

    def _need_attention(self, what):
        if not self.attention:
            raise ValueError(f"{what} needs the attention: translate with attention=True")

    def html(self):
        """The attention.html page of this translation: self-contained (no network), the viewer
        `attnscope attention` writes."""
        self._need_attention("html()")
        return self._native.html(f"{self.source} → {self.text}")

    def _repr_html_(self):
        if not self.attention:
            return None  # Jupyter shows the repr instead
        return viewer.inline(self.html(), self._frame_height())

    def _frame_height(self):
        return viewer.height_for(max(len(self.source_tokens), len(self.target_tokens)))

    def show(self, height=None):
        """Shows the viewer: inline in Jupyter (an iframe whose script runs, no network; height
        in pixels, by default from the number of tokens); elsewhere writes attention.html into a
        temporary file and returns its path."""
        self._need_attention("show()")
        if height is not None:
            height = _args.integer("height", height, 100, 10000)
        return viewer.show(self.html(), height or self._frame_height())

    def heatmap(self, kind="cross", layers=None, heads=None):
        """The heatmap grid of one kind (layers × heads, labelled), as `attnscope attention`
        draws <kind>.png and <kind>.svg: a Picture (shows in Jupyter; .png, .svg, .save()).
        layers / heads: an index or a list of indices into the captured arrays
        (attention[kind]'s first two axes; -1 is the last) to draw only those panels."""
        self._need_attention("heatmap()")
        if kind not in _KINDS:
            raise ValueError(f"unknown attention kind {kind!r} ({', '.join(_KINDS)})")
        if kind not in self.attention:
            raise ValueError(
                f"no {kind!r} attention captured (captured: {', '.join(self.attention) or 'none'})"
            )
        L, H = self.attention[kind].shape[:2]
        rows = _positions("layers", layers, L)
        cols = _positions("heads", heads, H)
        return Picture(self._native, kind, f"{self.source} → {self.text}", rows, cols)

    def to_json(self):
        """attention.json of this translation, as text."""
        self._need_attention("to_json()")
        return self._native.to_json()

    def save(self, dir, *, npy=False, pictures=True, html=True, rollout=False,
             contributions=False, residual_share=0.5):
        """Writes what `attnscope attention` writes into dir: attention.json,
        attention.safetensors, <kind>.png/.svg, attention.html, optionally npy/, rollout and
        contributions files. Returns the paths written."""
        self._need_attention("save()")
        dir = _args.path("dir", dir)
        return self._model._native.save(
            self._native, dir, _args.boolean("npy", npy), _args.boolean("pictures", pictures),
            _args.boolean("html", html), _args.boolean("rollout", rollout),
            _args.boolean("contributions", contributions),
            _args.real("residual_share", residual_share, 0, 1),
        )

    # ---- analyses ---------------------------------------------------------------------------

    def align(self, layer=None, head=None, *, shift=False, threshold=0.0, keep_eos=False,
              pieces=False):
        """Word alignment read from cross-attention, as `attnscope align` prints it → Alignment.

        The map: one head (layer and head), a layer's mean over heads (layer), or the mean of
        every head of every layer (neither; the default). Indices may count from the end.
        Output token y_i is read from the row that predicted it (shift=True: from the row where it
        was fed). threshold 0: each target word links to its argmax source word; > 0: to every
        source word with at least that weight. Words (pieces joined), or pieces=True.
        keep_eos=True keeps the source </s> column and aligns the emitted </s>.
        Runs one teacher-forced pass over the source and this output (every layer and head,
        whatever attention= captured).
        """
        if head is not None and layer is None:
            raise ValueError("align(head=...) needs layer= too")
        layers = self._model.num_layers["cross"]
        if layer is not None:
            layer = _args.integer("layer", layer, -layers, layers - 1) % layers
        if head is not None:
            heads = self._model.num_heads
            head = _args.integer("head", head, -heads, heads - 1) % heads
        a = self._model._native.align(
            self._native, layer, head, _args.boolean("shift", shift),
            _args.real("threshold", threshold, 0, 1), _args.boolean("keep_eos", keep_eos),
            _args.boolean("pieces", pieces),
        )
        return Alignment(a)

    def rollout(self, residual_share=0.5):
        """Attention rollout (Abnar & Zuidema 2020) of the encoder and of the decoder's
        self-attention stack: {"encoder": [Ts, Ts], "decoder": [T, T]}, row i the share of each
        token in position i at the top of the stack (rows sum to 1). residual_share: the share
        each position keeps through the residual path, in [0, 1]. Needs self-attention layers
        (Transformer models); runs one teacher-forced pass."""
        m = self._model
        if not (m.num_layers["encoder_self"] and m.num_layers["decoder_self"]):
            raise ValueError(
                f"rollout() needs self-attention layers in the encoder and the decoder: "
                f"{m.path} is an {m.arch} model without them"
            )
        return m._native.rollout(self._native, _args.real("residual_share", residual_share, 0, 1))

    def contributions(self):
        """Value-weighted contributions (Kobayashi et al. 2020): how far each key actually moves
        each query's output, beside the weight it gets.

        {kind: {"weights": [L, H, Tq, Tk] the attention weights α,
                "per_head": [L, H, Tq, Tk] ‖α_ij · v_j W_O‖ per head,
                "summed": [L, Tq, Tk] ‖Σ_h α_ij · v_j W_O‖ (the layer's combined effect),
                "value_norms": [L, H, Tk] ‖v_j W_O‖, so per_head = weights · value_norms}}.
        Needs value vectors (Transformer models); runs one teacher-forced pass."""
        m = self._model
        if not m.info["value_vectors"]:
            raise ValueError(
                f"contributions() needs the value vectors of each attention head: {m.path} is an "
                f"{m.arch} model, which has none"
            )
        return m._native.contributions(self._native)


def _positions(name, value, count):
    """None → [] (all); an index or a list of indices in [-count, count) → positions."""
    if value is None:
        return []
    items = [value] if not isinstance(value, (list, tuple)) else list(value)
    if not items:
        raise ValueError(f"{name} is empty")
    return [_args.integer(name, v, -count, count - 1) % count for v in items]


class ForwardOutput:
    """Model.forward's output: logits float32 [B, Tt, V] and attention {kind: float32
    [layers, B, heads, Tq, Tk]} (arrays the caller owns). encoder_attentions,
    decoder_attentions and cross_attentions give the same maps as Hugging Face does: a tuple
    with one [B, heads, Tq, Tk] array per layer."""

    def __init__(self, logits, attention):
        self.logits = logits
        self.attention = attention

    def _layers(self, kind):
        a = self.attention.get(kind)
        return tuple(a) if a is not None else ()

    @property
    def encoder_attentions(self):
        return self._layers("encoder_self")

    @property
    def decoder_attentions(self):
        return self._layers("decoder_self")

    @property
    def cross_attentions(self):
        return self._layers("cross")

    def __repr__(self):
        maps = ", ".join(f"{k} {_shape(v)}" for k, v in self.attention.items())
        return f"<attnscope.ForwardOutput logits {_shape(self.logits)}; attention: {maps}>"


class Alignment:
    """A word alignment (Result.align).

    soft: float32 [target units, source units], row k the distribution of output unit k over the
    source units; links: [(source index, target index), ...], 0-based; pharaoh: the links as
    "0-0 1-2 …" (source first, as fast_align and Moses print them); source_labels and
    target_labels: the units (words, or pieces); source: which map was read.
    """

    def __init__(self, d):
        self.soft = d["soft"]
        self.links = [tuple(link) for link in d["links"]]
        self.pharaoh = d["pharaoh"]
        self.source_labels = list(d["source_labels"])
        self.target_labels = list(d["target_labels"])
        self.source = d["source"]

    def __repr__(self):
        pairs = ", ".join(
            f"{self.target_labels[t]}→{self.source_labels[s]}" for s, t in self.links
        )
        return f"<attnscope.Alignment ({self.source}): {pairs}>"

    def _repr_html_(self):
        return viewer.alignment_table(self)


class Picture:
    """A heatmap grid (Result.heatmap): shows as PNG in Jupyter; .png (bytes), .svg (text),
    .save(path) (.png or .svg by the name)."""

    def __init__(self, native, kind, title, rows=(), cols=()):
        self._native = native
        self.kind = kind
        self.title = title
        self._rows, self._cols = list(rows), list(cols)
        self._png = None

    @property
    def png(self):
        if self._png is None:
            self._png = self._native.heatmap_png(self.kind, self._rows, self._cols)
        return self._png

    @property
    def svg(self):
        return self._native.heatmap_svg(self.kind, self._rows, self._cols)

    def _repr_png_(self):
        return self.png

    def save(self, path):
        path = _args.path("path", path)
        ext = os.path.splitext(path)[1].lower()
        if ext not in (".png", ".svg"):
            raise ValueError(f"save() writes .png or .svg, not {path!r}")
        data = self.png if ext == ".png" else self.svg.encode("utf-8")
        with open(path, "wb") as f:
            f.write(data)
        return path

    def __repr__(self):
        return f"<attnscope.Picture {self.kind}: {self.title}>"

