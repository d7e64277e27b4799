# The analyses equal the CLI's: align() = `attnscope align`, rollout() = rollout.json,
# contributions() = contributions.json (`attnscope attention --rollout --contributions`).
import json

import numpy as np
import pytest

from conftest import MODEL, SENTENCES, cli_attention, run_cli


def test_align_equals_the_cli(model):
    lines = run_cli("align", "--model", MODEL, stdin="\n".join(SENTENCES) + "\n").stdout.splitlines()
    for sentence, line in zip(SENTENCES, lines):
        r = model.translate(sentence)
        a = r.align()
        assert line == f"{r.text} ||| {a.pharaoh}"
        assert a.soft.shape == (len(a.target_labels), len(a.source_labels))
        np.testing.assert_allclose(a.soft.sum(-1), 1.0, atol=1e-5)
        assert a.links and all(0 <= s < a.soft.shape[1] and 0 <= t < a.soft.shape[0]
                               for s, t in a.links)


@pytest.mark.parametrize("flags, kwargs", [
    (["--layer", "1", "--head", "0"], {"layer": -1, "head": 0}),
    (["--mean-layer", "0", "--pieces", "--shift"], {"layer": 0, "pieces": True, "shift": True}),
    (["--threshold", "0.2", "--keep-eos"], {"threshold": 0.2, "keep_eos": True}),
])
def test_align_options_equal_the_cli_flags(model, flags, kwargs):
    sentence = SENTENCES[1]
    line = run_cli("align", "--model", MODEL, *flags, stdin=sentence + "\n").stdout.strip()
    a = model.translate(sentence).align(**kwargs)
    assert line.split(" ||| ")[1] == a.pharaoh


def test_rollout_and_contributions_equal_the_cli(model, tmp_path):
    sentence = SENTENCES[2]
    _, out = cli_attention(tmp_path, sentence, "--rollout", "--contributions", "--no-pictures",
                           "--no-html", "--residual-share", "0.3")
    rollout = json.loads((out / "rollout.json").read_text())
    contributions = json.loads((out / "contributions.json").read_text())
    r = model.translate(sentence)  # the analyses need no captured attention
    mine = r.rollout(residual_share=0.3)
    for side in ("encoder", "decoder"):
        np.testing.assert_allclose(mine[side], np.array(rollout[side]), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(mine[side].sum(-1), 1.0, atol=1e-5)
    c = r.contributions()
    assert set(c) == {"encoder_self", "decoder_self", "cross"}
    for kind, parts in c.items():
        for name in ("value_norms", "per_head", "summed"):
            np.testing.assert_allclose(parts[name], np.array(contributions[kind][name]),
                                       rtol=1e-5, atol=1e-6)
        # ‖α·f(j)‖ = α · ‖f(j)‖, and the layer's combined vector is no longer than its parts.
        np.testing.assert_allclose(parts["per_head"],
                                   parts["weights"] * parts["value_norms"][:, :, None, :],
                                   rtol=1e-5, atol=1e-6)
        assert (parts["summed"] <= parts["per_head"].sum(1) + 1e-5).all()
    full = model.translate(sentence, attention=True)
    for kind in c:
        np.testing.assert_allclose(c[kind]["weights"], full.attention[kind], atol=2e-6)


def test_save_writes_the_cli_files(model, tmp_path):
    r = model.translate(SENTENCES[0], attention=True)
    written = r.save(tmp_path / "att", npy=True, rollout=True, contributions=True)
    names = {p.split("/att/")[1] for p in written}
    for name in ("attention.json", "attention.safetensors", "attention.html", "cross.png",
                 "cross.svg", "npy/cross_0.npy", "rollout.json", "contributions.json"):
        assert name in names
    saved = json.loads((tmp_path / "att" / "attention.json").read_text())
    np.testing.assert_allclose(np.array(saved["weights"]["cross"]), r.attention["cross"],
                               rtol=1e-6)
    assert np.load(tmp_path / "att" / "npy" / "cross_1.npy").tolist() == r.attention["cross"][1].tolist()
