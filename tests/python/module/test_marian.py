# An OPUS-MT (Hugging Face Marian) directory through the module: the same translations as
# transformers (the golden fixtures of tools/), its generation config's defaults, the <pad>
# decoder start token in the target tokens and in encode(side="target").
import json

import numpy as np
import pytest

import attnscope
from conftest import REPO

FIXTURES = REPO / "tests" / "data" / "marian"


@pytest.mark.parametrize("variant", ["shared_swish", "separate_gelu", "noscale_relu_f16"])
def test_translations_are_hugging_faces(variant):
    golden = json.loads((FIXTURES / variant / "golden.json").read_text(encoding="utf-8"))
    m = attnscope.load(str(FIXTURES / variant / "model"))
    start = m.info["decoder_start_id"]
    assert start == m.info["pad_id"]  # Marian's decoder starts from <pad>
    for case in golden["cases"]:
        for name, run in case["runs"].items():
            # What the case asked transformers for, as the module's keywords.
            o = run["overrides"]
            kwargs = {"beam": o.get("num_beams"), "nbest": o.get("num_return_sequences"),
                      "length_penalty": o.get("length_penalty"),
                      "max_new_tokens": o.get("max_new_tokens")}
            if "early_stopping" in o and o["early_stopping"] != golden["generation_config"].get(
                    "early_stopping", False):
                continue  # not a setting of the module (the model's generation config decides)
            r = m.translate(case["source"], **kwargs)
            want = [h["text"] for h in run["hypotheses"]]
            assert [h.text for h in r.hypotheses] == want, (case["source"], name)
        if "max_new_tokens" in case["runs"]["beam"]["overrides"]:
            continue
        r = m.translate(case["source"], attention=True)  # the generation config's beam
        assert r.text == case["runs"]["beam"]["hypotheses"][0]["text"]
        assert r.target_tokens[0] == "<pad>"
        cross = r.attention["cross"]
        assert cross.shape[2] == len(r.target_tokens)
        np.testing.assert_allclose(cross.sum(axis=-1), 1.0, atol=1e-5)
    assert m.encode("Onde", side="target")[0] == start
