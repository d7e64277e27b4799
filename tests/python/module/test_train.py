# attnscope.train is `attnscope train`: the same weights for the same options, the CLI's log on
# sys.stdout, a progress callback, exceptions from it and Ctrl-C stop the run (the checkpoint
# stays whole and resume continues it).
import json
import os
import random
import signal
import threading
import time

import numpy as np
import pytest

import attnscope
from conftest import run_cli

OPTIONS = dict(config="tiny", vocab=25, batch_tokens=400, valid_every=3, log_every=1,
               valid_bleu_sentences=8, warmup=2, seed=3)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Reversing short digit sequences: learnable in a few steps, tokenised in a blink."""
    rng = random.Random(5)
    lines = []
    for _ in range(300):
        words = [str(rng.randrange(10)) for _ in range(rng.randrange(2, 6))]
        lines.append(" ".join(words) + "\t" + " ".join(reversed(words)))
    path = tmp_path_factory.mktemp("corpus") / "pairs.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def losses(out):
    with open(os.path.join(out, "metrics.jsonl"), encoding="utf-8") as f:
        return [json.loads(line)["loss"] for line in f if '"loss"' in line and '"valid' not in line]


def test_the_same_training_as_the_cli(corpus, tmp_path, capsys):
    events = []
    result = attnscope.train(data=corpus, out=tmp_path / "py", steps=6, valid=corpus,
                             progress=events.append, **OPTIONS)
    flags = []
    for k, v in OPTIONS.items():
        flags += [f"--{k.replace('_', '-')}", v]
    run_cli("train", "--data", corpus, "--out", tmp_path / "cli", "--steps", 6, "--valid", corpus,
            *flags)
    py = (tmp_path / "py" / "model.safetensors").read_bytes()
    assert py == (tmp_path / "cli" / "model.safetensors").read_bytes()
    assert losses(tmp_path / "py") == losses(tmp_path / "cli")
    assert capsys.readouterr().out == ""  # a callback instead of the printed log
    # Each step reports once: a log line, or at steps 3 and 6 the validation.
    assert [(e["kind"], e["step"]) for e in events[:-1]] == [
        ("step", 1), ("step", 2), ("validation", 3), ("step", 4), ("step", 5), ("validation", 6)]
    assert all(e["loss"] > 0 for e in events if e["kind"] == "step")
    assert events[-1]["kind"] == "done" and events[-1]["stop_reason"] == "steps"
    assert events[2]["bleu"] is not None and events[2]["valid_loss"] > 0
    assert result.steps == 6 and result.best_step in (3, 6)
    m = result.load()
    assert isinstance(m.translate("1 2 3").text, str)


def test_progress_true_prints_the_cli_log(corpus, tmp_path, capsys):
    attnscope.train(data=corpus, out=tmp_path / "m", steps=2, **OPTIONS)
    out = capsys.readouterr().out
    assert "training pairs: 300" in out
    assert "step 1/2" in out and "step 2/2" in out
    assert "best model (step" in out
    assert (tmp_path / "m" / "training.png").exists()  # drawn at each validation, as the CLI


def test_an_exception_in_the_callback_stops_and_resume_continues(corpus, tmp_path):
    def stop_at_4(event):
        if event["step"] >= 4:
            raise ValueError("stop here")

    with pytest.raises(ValueError, match="stop here"):
        attnscope.train(data=corpus, out=tmp_path / "m", steps=9, progress=stop_at_4, **OPTIONS)
    assert (tmp_path / "m" / "checkpoint").exists()  # written at step 3
    done = attnscope.train(data=corpus, out=tmp_path / "m", steps=9, resume=True,
                           progress=False, **OPTIONS)
    assert done.steps == 9
    whole = attnscope.train(data=corpus, out=tmp_path / "whole", steps=9, progress=False,
                            **OPTIONS)
    assert whole.steps == 9
    a = (tmp_path / "m" / "checkpoint").iterdir()
    assert losses(tmp_path / "m")[-3:] == losses(tmp_path / "whole")[-3:]
    assert sorted(p.name for p in a)


def test_ctrl_c_stops_training(corpus, tmp_path):
    """SIGINT while the engine trains (the GIL released, no callback) raises KeyboardInterrupt at
    the next progress event."""
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            attnscope.train(data=corpus, out=tmp_path / "m", steps=100000, minutes=2,
                            progress=False, **OPTIONS)
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 30


def test_the_trained_model_translates_like_any_other(corpus, tmp_path):
    result = attnscope.train(data=corpus, out=tmp_path / "m", steps=3, progress=False, **OPTIONS)
    r = result.load().translate("4 5 6", attention=True)
    assert r.attention["cross"].dtype == np.float32


def test_an_rnn_model_shows_its_one_attention(corpus, tmp_path):
    """arch rnn-attention: cross-attention only (one layer, one head); what it lacks is refused
    with a message, not assumed."""
    result = attnscope.train(data=corpus, out=tmp_path / "rnn", arch="rnn-attention", steps=2,
                             progress=False, **OPTIONS)
    m = result.load()
    assert m.arch == "rnn-attention"
    assert m.num_layers == {"encoder_self": 0, "decoder_self": 0, "cross": 1}
    r = m.translate("1 2 3", attention=True)
    assert set(r.attention) == {"cross"}
    assert r.attention["cross"].shape == (1, 1, len(r.target_tokens), len(r.source_tokens))
    np.testing.assert_allclose(r.attention["cross"].sum(-1), 1.0, atol=2e-6)
    assert r.align().links
    with pytest.raises(ValueError, match="no encoder_self"):
        m.translate("1 2 3", attention="encoder_self")
    with pytest.raises(ValueError, match="rollout.*rnn-attention"):
        r.rollout()
    with pytest.raises(ValueError, match="contributions.*rnn-attention"):
        r.contributions()
    out = m.forward(m.encode("1 2 3"), m.encode("3 2 1", side="target"))
    assert set(out.attention) == {"cross"}
