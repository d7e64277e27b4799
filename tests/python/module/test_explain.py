# attnscope.explain is `attnscope explain`: the same text and JSON, and each step as an array.
import numpy as np

import attnscope
from conftest import run_cli


def test_text_and_json_equal_the_cli():
    e = attnscope.explain(batch=2, length=3, dim=4)
    assert str(e) == run_cli("explain", "--batch", 2, "--len", 3, "--dim", 4).stdout
    e = attnscope.explain(batch=1, length=4, dim=6, heads=2, causal=True, pad=1, seed=3)
    assert e.to_json() == run_cli("explain", "--batch", 1, "--len", 4, "--dim", 6, "--heads", 2,
                                  "--causal", "--pad", 1, "--seed", 3, "--json").stdout


def test_the_2_3_4_example_as_arrays():
    e = attnscope.explain(batch=2, length=3, dim=4)
    assert e.d_k == 4
    Q, K, V = e["Q"], e["K"], e["V"]
    assert Q.shape == K.shape == V.shape == (2, 3, 4)
    scores = Q @ K.transpose(0, 2, 1)  # one product per sequence of the batch: [2, 3, 3]
    np.testing.assert_allclose(e["scores"], scores, rtol=1e-5, atol=1e-6)
    scaled = scores / np.sqrt(e.d_k)  # √d_k, the key width: not the sequence length
    w = np.exp(scaled - scaled.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)  # softmax over the keys: the last axis
    np.testing.assert_allclose(e["weights"], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(e["weights"].sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(e["Z"], w @ V, rtol=1e-5, atol=1e-6)  # N×d, from the N×N weights
    np.testing.assert_allclose(e["out"], e["X"] + e["Z"], rtol=1e-5, atol=1e-6)  # the residual
    assert e.max_diff_out < 1e-5 and e.max_diff_weights < 1e-5
    assert e.names[0] == "X" and "weights" in e
    assert e.step("weights").row_sums == [1.0] * 6 or np.allclose(e.step("weights").row_sums, 1)


def test_the_look_ahead_mask_and_padding_give_exact_zeros():
    e = attnscope.explain(batch=2, length=4, dim=4, causal=True, pad=1)
    w = e["weights"]
    upper = np.triu(np.ones((4, 4), dtype=bool), 1)
    assert (w[:, upper] == 0.0).all()
    assert (w[1, :, 3] == 0.0).all()  # the padded key of the last sequence
    mask = e["mask"]
    assert np.isneginf(mask[:, upper]).all()
    assert "causal=True" in repr(e)
