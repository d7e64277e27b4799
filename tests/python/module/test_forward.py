# Model.forward equals `attnscope forward --json` (logits and every map), gives Hugging Face's
# per-layer tuples too, and masks padded keys with exact zeros.
import json

import numpy as np

from conftest import MODEL, run_cli


def test_forward_equals_the_cli(model):
    src = [[5, 6, 7, 8, 2], [9, 10, 2]]
    tgt = [[1, 11, 12, 13], [1, 14]]
    cli = json.loads(run_cli("forward", "--model", MODEL, "--src", "5 6 7 8 2", "--src", "9 10 2",
                             "--tgt", "1 11 12 13", "--tgt", "1 14", "--json").stdout)
    out = model.forward(src, tgt)
    assert out.logits.dtype == np.float32
    assert out.logits.shape == (2, 4, model.tgt_vocab_size)
    np.testing.assert_allclose(out.logits, np.array(cli["logits"]), rtol=1e-6, atol=1e-6)
    for kind in ("encoder_self", "decoder_self", "cross"):
        expected = np.array(cli["attention"][kind])  # [L, B, H, Tq, Tk]
        assert out.attention[kind].shape == expected.shape
        np.testing.assert_allclose(out.attention[kind], expected, rtol=1e-6, atol=0)
    assert len(out.cross_attentions) == model.num_layers["cross"]
    assert out.cross_attentions[1].shape == (2, model.num_heads, 4, 5)
    np.testing.assert_array_equal(out.encoder_attentions[0], out.attention["encoder_self"][0])
    assert "logits [2, 4, 150]" in repr(out)


def test_padded_keys_get_exactly_zero(model):
    out = model.forward([[5, 6, 7, 8, 2], [9, 10, 2]], [[1, 11, 12], [1, 14, 15]])
    enc, cross = out.attention["encoder_self"], out.attention["cross"]
    # Row 1 of the batch has 3 real source tokens and 2 padded ones.
    assert (enc[:, 1, :, :, 3:] == 0.0).all()
    assert (cross[:, 1, :, :, 3:] == 0.0).all()
    assert (enc[:, 1, :, :3, :3] > 0).all()
    np.testing.assert_allclose(enc[:, 1, :, :3, :].sum(-1), 1.0, atol=2e-6)
    dec = out.attention["decoder_self"]
    assert (dec[..., np.triu(np.ones((3, 3), dtype=bool), 1)] == 0.0).all()


def test_forward_over_a_translation_gives_its_maps(model):
    """The teacher-forced pass over the source and the output equals the captured maps."""
    r = model.translate("25 de dezembro de 1969", attention=True)
    src = model.encode(r.source)
    tgt = [model.info["bos_id"], *r.tokens]
    out = model.forward(src, tgt)
    for kind in ("encoder_self", "decoder_self", "cross"):
        np.testing.assert_allclose(out.attention[kind][:, 0], r.attention[kind], atol=2e-6)


def test_text_and_ids(model):
    pieces = model.tokenize("9 Oct 1993")
    ids = model.encode("9 Oct 1993")
    assert ids.dtype == np.int32 and ids[-1] == model.info["eos_id"]
    assert model.decode(ids[:-1], side="source") == "9 Oct 1993"
    assert len(pieces) == len(ids) - 1
    assert list(model.encode("9 Oct 1993", specials=False)) == list(ids[:-1])
    tgt = model.encode("1993-10-09", side="target")
    assert tgt[0] == model.info["bos_id"]
    assert model.decode(tgt) == "1993-10-09"
    assert model.decode([]) == ""
