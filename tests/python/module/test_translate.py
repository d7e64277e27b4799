# Translation from Python equals the CLI's: the text, the tokens and every captured map
# (attention.json of `attnscope attention`), greedy and beam, with and without a capture spec.
import numpy as np
import pytest

import attnscope
from conftest import MODEL, SENTENCES, cli_attention, run_cli


def test_text_equals_the_cli_translate(model):
    cli = run_cli("translate", "--model", MODEL, "--beam", 4, stdin="\n".join(SENTENCES) + "\n")
    results = model.translate(SENTENCES, beam=4)
    assert isinstance(results, list) and len(results) == len(SENTENCES)
    assert [r.text for r in results] == cli.stdout.splitlines()
    one = model.translate(SENTENCES[0], beam=4)
    assert isinstance(one, attnscope.Result)
    assert one.text == results[0].text
    assert model.translate([]) == []


@pytest.mark.parametrize("beam", [1, 4])
def test_every_map_equals_attention_json(model, tmp_path, beam):
    sentence = SENTENCES[1]
    cli, _ = cli_attention(tmp_path, sentence, "--beam", beam, "--no-pictures", "--no-html")
    r = model.translate(sentence, beam=beam, attention=True)
    assert r.text == cli["translation"]
    assert r.source_tokens == cli["source_tokens"]
    assert r.target_tokens == cli["target_tokens"]
    assert set(r.attention) == {"encoder_self", "decoder_self", "cross"}
    for kind, maps in r.attention.items():
        expected = np.array(cli["weights"][kind], dtype=np.float64)
        assert maps.dtype == np.float32
        assert maps.shape == expected.shape
        np.testing.assert_allclose(maps, expected, rtol=1e-6, atol=0)
        assert r.layers[kind] == cli["layers"][kind]
    assert r.heads == cli["heads"] == [0, 1]
    assert r.reduction == "none"


def test_a_capture_spec_equals_the_cli_flags(model, tmp_path):
    sentence = SENTENCES[2]
    cli, _ = cli_attention(tmp_path, sentence, "--kinds", "cross,decoder_self", "--layers", "1",
                           "--reduce", "mean", "--no-pictures", "--no-html")
    r = model.translate(sentence, attention={"kinds": ["cross", "decoder_self"], "layers": [-1],
                                             "reduce": "mean"})
    assert set(r.attention) == {"decoder_self", "cross"}
    for kind in ("decoder_self", "cross"):
        assert r.attention[kind].shape[:2] == (1, 1)  # one layer, heads reduced to one map
        np.testing.assert_allclose(r.attention[kind], np.array(cli["weights"][kind]), rtol=1e-6)
        assert r.layers[kind] == [1]
    assert r.heads == [] and r.reduction == "mean"
    full = model.translate(sentence, attention=True)
    np.testing.assert_allclose(r.attention["cross"][0, 0], full.attention["cross"][1].mean(0),
                               rtol=1e-6, atol=1e-7)
    heads = model.translate(sentence, attention={"kinds": "cross", "heads": 1, "reduce": "last"})
    assert heads.attention["cross"].shape == (2, 1, 1, len(r.source_tokens))
    np.testing.assert_array_equal(heads.attention["cross"][:, 0, 0],
                                  full.attention["cross"][:, 1, -1])


def test_shapes_rows_and_masks(model):
    r = model.translate(SENTENCES[1], beam=2, attention=True)
    Ts, T = len(r.source_tokens), len(r.target_tokens)
    L, H = model.num_layers["encoder_self"], model.num_heads
    assert r.attention["encoder_self"].shape == (L, H, Ts, Ts)
    assert r.attention["decoder_self"].shape == (model.num_layers["decoder_self"], H, T, T)
    assert r.attention["cross"].shape == (model.num_layers["cross"], H, T, Ts)
    for maps in r.attention.values():
        assert maps.dtype == np.float32 and maps.flags.c_contiguous
        np.testing.assert_allclose(maps.sum(-1), 1.0, rtol=0, atol=2e-6)
        assert (maps >= 0).all()
    # The look-ahead mask: nothing above the diagonal, exactly.
    upper = np.triu(np.ones((T, T), dtype=bool), k=1)
    assert (r.attention["decoder_self"][..., upper] == 0.0).all()
    assert (r.attention["decoder_self"][..., ~upper] > 0.0).all()


def test_nbest_hypotheses_each_with_their_maps(model):
    r = model.translate(SENTENCES[0], beam=4, nbest=3, attention=True)
    assert len(r.hypotheses) == 3
    assert r.hypotheses[0].text == r.text
    assert r.hypotheses[0].attention is r.attention
    scores = [h.score for h in r.hypotheses]
    assert scores == sorted(scores, reverse=True)
    for h in r.hypotheses:
        assert h.target_tokens[0] == "<s>"
        T = len(h.target_tokens)
        assert h.attention["cross"].shape[2] == T
        assert h.attention["decoder_self"].shape[2:] == (T, T)
    assert len({tuple(h.tokens) for h in r.hypotheses}) == 3


def test_max_len_limits_the_output(model):
    r = model.translate(SENTENCES[1], max_len=3)
    assert len(r.tokens) == 3 and not r.finished
    assert len(r.target_tokens) == 3  # <s> + the two tokens fed back (the last was never fed)


def test_no_attention_unless_asked(model):
    r = model.translate(SENTENCES[0])
    assert r.attention == {}
    assert r._repr_html_() is None
    assert "not captured" in repr(r)
    with pytest.raises(ValueError, match="attention=True"):
        r.show()
