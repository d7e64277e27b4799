"""attnscope.explain: one attention layer walked through step by step on numbers small enough to
read (`attnscope explain`), as text and as arrays."""

from . import _args
from ._attnscope import _explain

MAX_SIZE = 64  # the engine's limit for batch, length and dim (the output is meant to be read)


class Step:
    """One step: name ("X", "W_Q", "Q", "K", "V", "scores", "scaled", "mask", "weights", "Z",
    "out", …), title (its formula), shape, detail, values (float32 array of that shape; the mask
    holds -inf where a key is hidden), note (what it means), rows / cols (what the last two axes
    index: "token", "query", "key" or ""), row_sums (the weights step: Σ over keys, each 1)."""

    def __init__(self, d):
        self.name = d["name"]
        self.title = d["title"]
        self.shape = tuple(d["shape"])
        self.detail = d["detail"]
        self.values = d["values"]
        self.note = d["note"]
        self.rows = d["rows"]
        self.cols = d["cols"]
        self.row_sums = list(d["row_sums"])

    def __repr__(self):
        return f"<attnscope.Step {self.name}: {self.title} {list(self.shape)}>"


class Explanation:
    """The walk-through of explain(): print it (or show it in Jupyter) for the text; index it by
    step name for the arrays (e["weights"] is [batch, heads, Tq, Tk] with heads, else
    [batch, Tq, Tk]); .steps lists them in order. Every number comes from the engine's own
    kernels and is checked against its fused attention kernel (max_diff_out, max_diff_weights).
    """

    def __init__(self, d, options):
        self.options = options
        self.steps = [Step(s) for s in d["steps"]]
        self.text = d["text"]
        self.d_k = d["d_k"]
        self.max_diff_out = d["max_diff_out"]
        self.max_diff_weights = d["max_diff_weights"]
        self.reading = list(d["reading"])
        self._json = d["json"]

    @property
    def names(self):
        return [s.name for s in self.steps]

    def step(self, name):
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"no step {name!r} (steps: {', '.join(self.names)})")

    def __getitem__(self, name):
        return self.step(name).values

    def __contains__(self, name):
        return name in self.names

    def to_json(self):
        """The walk-through as `attnscope explain --json` prints it."""
        return self._json

    def __str__(self):
        return self.text

    def __repr__(self):
        o = self.options
        return (
            f"<attnscope.Explanation batch={o['batch']} length={o['length']} dim={o['dim']} "
            f"heads={o['heads']} causal={o['causal']} pad={o['pad']}: {len(self.steps)} steps "
            "(print it for the walk-through)>"
        )

    def _repr_pretty_(self, p, cycle):  # IPython shows the walk-through itself
        p.text(self.text)


def explain(batch=2, length=3, dim=4, heads=1, causal=False, pad=0, seed=0):
    """Walks through one attention layer on a [batch, length, dim] input → Explanation.

    X → Q, K, V → scores = Q·Kᵀ (one batched product) → scaled by 1/√d_k (d_k = dim / heads,
    the key width, not the sequence length) → the mask (causal: the look-ahead mask; pad: this
    many padded positions at the end of the last sequence, masked as keys; −∞ becomes a weight of
    exactly 0) → softmax over the keys (each row sums to 1) → Z = weights·V → out = X + Z (the
    residual). With heads > 1: split into heads, attention per head, concatenate, W_O.
    seed picks the random inputs and weights.
    """
    o = {
        "batch": _args.integer("batch", batch, 1, MAX_SIZE),
        "length": _args.integer("length", length, 1, MAX_SIZE),
        "dim": _args.integer("dim", dim, 1, MAX_SIZE),
        "heads": _args.integer("heads", heads, 1, MAX_SIZE),
        "causal": _args.boolean("causal", causal),
        "pad": _args.integer("pad", pad, 0),
        "seed": _args.integer("seed", seed, 0, 2**64 - 1),
    }
    if o["dim"] % o["heads"]:
        raise ValueError(f"heads ({o['heads']}) must divide dim ({o['dim']})")
    if o["pad"] >= o["length"]:
        raise ValueError(f"pad ({o['pad']}) must be less than length ({o['length']})")
    return Explanation(_explain(**o), o)
