"""attnscope.train: `attnscope train` from Python — the same options, the same files, the same
log (printed to sys.stdout, so a notebook cell shows it)."""

import os

from . import _args
from ._attnscope import TrainArgs, _train

# Keyword → the attribute of TrainArgs it sets (the CLI flag with "_" for "-").
_OPTIONS = [name for name in dir(TrainArgs()) if not name.startswith("_")]


class TrainResult:
    """What train() did: out (the model directory), steps, epoch, best_step (the step of the
    model saved in out), best_metric (validation BLEU, or −loss without BLEU), elapsed_s,
    tokens_seen. load() opens the trained model."""

    def __init__(self, d):
        self.out = d["out"]
        self.steps = d["steps"]
        self.epoch = d["epoch"]
        self.best_step = d["best_step"]
        self.best_metric = d["best_metric"]
        self.elapsed_s = d["elapsed_s"]
        self.tokens_seen = d["tokens_seen"]

    def load(self):
        from .model import load

        return load(self.out)

    def __repr__(self):
        return (
            f"<attnscope.TrainResult {self.out!r}: {self.steps} steps in {self.elapsed_s:.0f} s, "
            f"best model at step {self.best_step}>"
        )


def train(data=None, out=None, *, config="small", minutes=None, steps=None, epochs=None,
          progress=True, **options):
    """Trains a translation model as `attnscope train` does → TrainResult.

    data: training pairs (TSV: source<TAB>target); or src_file= and tgt_file=. out: the model
    directory to write (config.json, model.safetensors, tokenizers, metrics.jsonl, checkpoint/,
    training.png). config: "tiny", "small", "base" or a config.json; arch=: "transformer"
    (default) or "rnn-attention". A limit is needed: minutes, steps or epochs.
    Every other option of `attnscope train --help` is a keyword with "_" for "-": valid=,
    split_dev=, resume=True, vocab=, spm_type=, separate_vocab=, spm=, tgt_spm=, batch_tokens=,
    accumulate=, lr=, warmup=, schedule=, label_smoothing=, dropout=, norm=, clip_norm=,
    weight_decay=, valid_every=, valid_bleu_sentences=, log_every=, patience=, seed=, src_col=,
    tgt_col=, reverse=. Errors name the CLI's flags (--batch-tokens for batch_tokens).

    progress: True prints the CLI's log and progress lines to sys.stdout; a callable gets a dict
    per log step, validation and the end (kind, step, epoch, loss, lr, tokens_per_s, elapsed_s,
    fraction_done, valid_loss, bleu, chrf, improved, stop_reason) and nothing is printed;
    False prints nothing. The GIL is released while training; Ctrl-C (or interrupting the
    kernel) stops at the next progress event with KeyboardInterrupt, and the checkpoint in out
    stays whole: train(..., resume=True) continues exactly.
    """
    args = TrainArgs()
    given = dict(options, data=data, out=out, config=config, minutes=minutes, steps=steps,
                 epochs=epochs)
    for name, value in given.items():
        if name not in _OPTIONS:
            raise TypeError(f"train() got an unexpected keyword argument {name!r}")
        if value is None:
            continue
        if name in ("data", "out", "config", "valid", "src_file", "tgt_file", "spm", "tgt_spm"):
            value = _args.path(name, value)
        try:
            setattr(args, name, value)
        except TypeError:
            raise TypeError(
                f"train(): {name} cannot be {type(value).__name__} {value!r} "
                f"(it is {type(getattr(args, name)).__name__})"
            ) from None
    if not args.out:
        raise TypeError("train() needs out=, the model directory to write")
    callback = progress if callable(progress) else None
    echo = progress is True
    if not callable(progress) and progress not in (True, False, None):
        raise TypeError("progress must be True, False or a callable")
    result = TrainResult(_train(args, echo, callback))
    if echo:
        print(f"best model (step {result.best_step}) in {os.fspath(result.out)}")
    return result
