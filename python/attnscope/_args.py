"""Argument checks shared by the package: a wrong type is a TypeError, a wrong value a ValueError,
each naming the argument, before anything reaches the engine."""

import numbers
import os

import numpy as np

KINDS = ("encoder_self", "decoder_self", "cross")
REDUCTIONS = ("none", "mean", "max", "last")


def integer(name, value, lo=None, hi=None):
    """An int (not a bool) in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        where = f"[{lo}, {hi}]" if hi is not None else f"≥ {lo}"
        raise ValueError(f"{name} must be {where}, not {value}")
    return value


def real(name, value, lo=None, hi=None):
    """A finite number in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, not {value}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        where = f"[{lo}, {hi}]" if hi is not None else f"≥ {lo}"
        raise ValueError(f"{name} must be {where}, not {value}")
    return value


def boolean(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, not {type(value).__name__}")
    return bool(value)


def path(name, value):
    """A str or os.PathLike, as a str."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), not {type(value).__name__}")
    return os.fspath(value)


def sentences(value):
    """str → ([value], True); a list or tuple of str → (list, False)."""
    if isinstance(value, str):
        value.encode("utf-8")  # a lone surrogate: UnicodeEncodeError (a ValueError)
        return [value], True
    if isinstance(value, (list, tuple)):
        for i, s in enumerate(value):
            if not isinstance(s, str):
                raise TypeError(f"sentences[{i}] must be a str, not {type(s).__name__}")
            s.encode("utf-8")
        return list(value), False
    raise TypeError(f"translate() takes a str or a list of str, not {type(value).__name__}")


def _indices(name, value, count, what):
    """An int or a list of ints, each in [-count, count), negatives counted from the end."""
    items = [value] if isinstance(value, numbers.Integral) else value
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"attention['{name}'] must be an int or a list of ints")
    out = []
    for v in items:
        v = integer(f"attention['{name}']", v)
        if not -count <= v < count:
            raise ValueError(f"attention['{name}']: {what} {v} does not exist (there are {count})")
        out.append(v % count)
    return sorted(set(out))


def capture(attention, layer_counts, heads):
    """translate()'s attention= as the engine's capture spec (None: capture nothing).

    attention: False/None, True (every kind the model has, every layer and head), a kind or a
    list of kinds, or a dict with any of "kinds", "layers", "heads", "reduce". layer_counts:
    {kind: number of layers} of the model (0 for kinds it lacks); heads: its number of heads.
    """
    if attention is None or attention is False:
        return None
    available = [k for k in KINDS if layer_counts.get(k, 0) > 0]
    if attention is True:
        return {"kinds": available, "layers": [], "heads": [], "reduce": "none"}
    if isinstance(attention, (str, list, tuple)):
        attention = {"kinds": attention}
    if not isinstance(attention, dict):
        raise TypeError(
            "attention must be True, False, a kind, a list of kinds or a dict "
            f"(kinds, layers, heads, reduce), not {type(attention).__name__}"
        )
    unknown = set(attention) - {"kinds", "layers", "heads", "reduce"}
    if unknown:
        raise ValueError(
            f"attention: unknown key(s) {sorted(unknown)} (kinds, layers, heads, reduce)"
        )
    kinds = attention.get("kinds", available)
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, (list, tuple)) or not kinds:
        raise TypeError("attention['kinds'] must be a kind or a non-empty list of kinds")
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"attention['kinds']: unknown kind {k!r} ({', '.join(KINDS)})")
        if layer_counts.get(k, 0) == 0:
            raise ValueError(f"attention['kinds']: the model has no {k} attention")
    kinds = [k for k in KINDS if k in kinds]
    layers = []
    if attention.get("layers") is not None:
        counts = {layer_counts[k] for k in kinds}
        if len(counts) != 1:
            raise ValueError(
                "attention['layers']: the kinds asked for have different numbers of layers "
                f"({', '.join(f'{k}: {layer_counts[k]}' for k in kinds)}); ask for them in "
                "separate calls"
            )
        layers = _indices("layers", attention["layers"], counts.pop(), "layer")
    head_list = []
    if attention.get("heads") is not None:
        head_list = _indices("heads", attention["heads"], heads, "head")
    reduce = attention.get("reduce")
    reduce = "none" if reduce is None else reduce
    if reduce not in REDUCTIONS:
        raise ValueError(
            f"attention['reduce'] must be one of {', '.join(REDUCTIONS)} (or None), not {reduce!r}"
        )
    return {"kinds": kinds, "layers": layers, "heads": head_list, "reduce": reduce}


def token_ids(name, ids, vocab, pad_id, max_len):
    """Token ids as a padded int32 array [batch, length]: a 1-D sequence is one row, a 2-D array
    or a list of sequences of any lengths is a batch (shorter rows padded with pad_id)."""
    if isinstance(ids, np.ndarray):
        if ids.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integers, not {ids.dtype}")
        rows = [ids] if ids.ndim == 1 else list(ids) if ids.ndim == 2 else None
        if rows is None:
            raise ValueError(f"{name} must be 1-D or 2-D, not {ids.ndim}-D")
    elif isinstance(ids, (list, tuple)):
        if all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in ids):
            rows = [ids]
        else:
            rows = list(ids)
    else:
        raise TypeError(f"{name} must be a sequence of ids or a batch of them, not {type(ids).__name__}")
    if not rows:
        raise ValueError(f"{name} is empty")
    out = []
    for r, row in enumerate(rows):
        if not isinstance(row, (list, tuple, np.ndarray)):
            raise TypeError(f"{name}[{r}] must be a sequence of ids, not {type(row).__name__}")
        for v in row:
            if isinstance(v, bool) or not isinstance(v, (numbers.Integral, np.integer)):
                raise TypeError(f"{name}[{r}] holds {v!r}, which is not an int")
        row = [int(v) for v in row]
        if not row:
            raise ValueError(f"{name}[{r}] is empty")
        if len(row) > max_len:
            raise ValueError(f"{name}[{r}] has {len(row)} ids, more than the model's max_len {max_len}")
        bad = [v for v in row if not 0 <= v < vocab]
        if bad:
            raise ValueError(f"{name}[{r}]: id {bad[0]} is outside the vocabulary [0, {vocab})")
        out.append(row)
    width = max(len(r) for r in out)
    batch = np.full((len(out), width), pad_id, dtype=np.int32)
    for r, row in enumerate(out):
        batch[r, : len(row)] = row
    return batch
