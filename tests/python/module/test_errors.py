# Errors are Python exceptions: the engine's as attnscope.Error (a RuntimeError) with its message
# naming the file; bad arguments as TypeError or ValueError naming the argument; never a crash.
import shutil

import numpy as np
import pytest

import attnscope
from conftest import MODEL, SENTENCES


def test_error_is_a_runtime_error():
    assert issubclass(attnscope.Error, RuntimeError)
    assert attnscope.Error.__module__ == "attnscope"


def test_a_missing_directory_or_file_is_named(tmp_path):
    with pytest.raises(attnscope.Error, match="no-such-model does not exist"):
        attnscope.load(tmp_path / "no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(attnscope.Error, match="config.json"):
        attnscope.load(tmp_path / "empty")


def test_a_broken_weights_file_names_it(tmp_path):
    bad = tmp_path / "model"
    shutil.copytree(MODEL, bad)
    data = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(attnscope.Error, match="model.safetensors"):
        attnscope.load(bad)


def test_a_missing_tokenizer_names_it(tmp_path):
    bad = tmp_path / "model"
    shutil.copytree(MODEL, bad)
    (bad / "shared.spm").unlink()
    with pytest.raises(attnscope.Error, match="spm"):
        attnscope.load(bad)


def test_bad_config_json_names_the_file_and_key(tmp_path):
    bad = tmp_path / "model"
    shutil.copytree(MODEL, bad)
    text = (bad / "config.json").read_text().replace('"heads": 2', '"heads": "two"')
    (bad / "config.json").write_text(text)
    with pytest.raises(attnscope.Error, match=r"config\.json.*heads|heads.*config\.json"):
        attnscope.load(bad)


def test_load_takes_a_path():
    with pytest.raises(TypeError, match="path"):
        attnscope.load(42)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"beam": 0}, ValueError, "beam"),
        ({"beam": 65}, ValueError, "beam"),
        ({"beam": "4"}, TypeError, "beam"),
        ({"beam": True}, TypeError, "beam"),
        ({"beam": 2, "nbest": 3}, ValueError, "nbest"),
        ({"length_penalty": float("nan")}, ValueError, "length_penalty"),
        ({"max_len": 0}, ValueError, "max_len"),
        ({"max_len": 5, "max_len_ratio": 1.0}, ValueError, "max_len"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"attention": "yes"}, ValueError, "kind"),
        ({"attention": 3}, TypeError, "attention"),
        ({"attention": {"kind": "cross"}}, ValueError, "unknown key"),
        ({"attention": {"kinds": ["cross", "self"]}}, ValueError, "self"),
        ({"attention": {"kinds": []}}, TypeError, "kinds"),
        ({"attention": {"layers": [2]}}, ValueError, "layer 2"),
        ({"attention": {"layers": [-3]}}, ValueError, "layer -3"),
        ({"attention": {"heads": [2]}}, ValueError, "head 2"),
        ({"attention": {"heads": ["0"]}}, TypeError, "heads"),
        ({"attention": {"reduce": "median"}}, ValueError, "reduce"),
    ],
)
def test_bad_translate_arguments(model, kwargs, error, message):
    with pytest.raises(error, match=message):
        model.translate(SENTENCES[0], **kwargs)


def test_bad_sentences(model):
    with pytest.raises(TypeError, match="str"):
        model.translate(5)
    with pytest.raises(TypeError, match=r"sentences\[1\]"):
        model.translate(["a", b"b"])


def test_invalid_utf8_reaches_no_one(model):
    with pytest.raises(UnicodeEncodeError):
        model.translate("\udcff")  # a lone surrogate cannot become UTF-8


def test_bad_forward_arguments(model):
    with pytest.raises(ValueError, match="vocabulary"):
        model.forward([5, 999], [1])
    with pytest.raises(ValueError, match="vocabulary"):
        model.forward([5, -1], [1])
    with pytest.raises(ValueError, match="rows"):
        model.forward([[5, 2], [6, 2]], [1])
    with pytest.raises(ValueError, match="empty"):
        model.forward([], [1])
    with pytest.raises(ValueError, match="max_len"):
        model.forward([5] * 65, [1])
    with pytest.raises(TypeError, match="int"):
        model.forward([5, "6"], [1])
    with pytest.raises(TypeError, match="integers"):
        model.forward(np.array([5.0, 2.0]), [1])
    with pytest.raises(ValueError, match="3-D"):
        model.forward(np.zeros((1, 1, 2), dtype=np.int32), [1])


def test_bad_analysis_arguments(model):
    r = model.translate(SENTENCES[0], attention=True)
    with pytest.raises(ValueError, match="residual_share"):
        r.rollout(residual_share=1.5)
    with pytest.raises(ValueError, match="layer"):
        r.align(layer=2)
    with pytest.raises(ValueError, match="layer="):
        r.align(head=0)
    with pytest.raises(ValueError, match="threshold"):
        r.align(threshold=-0.1)
    with pytest.raises(ValueError, match="kind"):
        r.heatmap("encoder")
    with pytest.raises(ValueError, match=".png or .svg"):
        r.heatmap().save("picture.jpg")
    with pytest.raises(ValueError, match="side"):
        model.tokenize("x", side="both")
    with pytest.raises(ValueError, match="vocabulary"):
        model.decode([1, 100000])


def test_bad_explain_arguments():
    with pytest.raises(ValueError, match="heads"):
        attnscope.explain(dim=4, heads=3)
    with pytest.raises(ValueError, match="length"):
        attnscope.explain(length=65)
    with pytest.raises(ValueError, match="pad"):
        attnscope.explain(length=3, pad=3)
    with pytest.raises(TypeError, match="causal"):
        attnscope.explain(causal="yes")


def test_bad_train_arguments(tmp_path):
    with pytest.raises(TypeError, match="unexpected keyword argument 'epoch'"):
        attnscope.train(data="x.tsv", out=tmp_path / "m", epoch=1)
    with pytest.raises(TypeError, match="batch_tokens"):
        attnscope.train(data="x.tsv", out=tmp_path / "m", steps=1, batch_tokens="many")
    with pytest.raises(TypeError, match="out="):
        attnscope.train(data="x.tsv", steps=1)
    with pytest.raises(attnscope.Error, match="--spm-type"):
        attnscope.train(data="x.tsv", out=tmp_path / "m", steps=1, spm_type="word")
    with pytest.raises(attnscope.Error, match="limit"):
        attnscope.train(data="x.tsv", out=tmp_path / "m")
    with pytest.raises(attnscope.Error, match="missing.tsv"):
        attnscope.train(data=tmp_path / "missing.tsv", out=tmp_path / "m", steps=1,
                        progress=False)
    with pytest.raises(TypeError, match="progress"):
        attnscope.train(data="x.tsv", out=tmp_path / "m", steps=1, progress="loud")
