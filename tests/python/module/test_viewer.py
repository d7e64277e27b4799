# The viewer and the pictures are the CLI's: html() is attention.html byte for byte, heatmap()
# is <kind>.png; in Jupyter the page sits in an iframe's srcdoc (its script runs there).
import html
import re

import pytest

import attnscope
from conftest import SENTENCES, cli_attention


def test_html_and_pictures_equal_the_cli_files(model, tmp_path):
    sentence = SENTENCES[1]
    _, out = cli_attention(tmp_path, sentence, "--beam", 2)
    r = model.translate(sentence, beam=2, attention=True)
    assert r.html() == (out / "attention.html").read_text(encoding="utf-8")
    assert r.to_json() == (out / "attention.json").read_text(encoding="utf-8")
    for kind in ("encoder_self", "decoder_self", "cross"):
        picture = r.heatmap(kind)
        assert picture.png == (out / f"{kind}.png").read_bytes()
        assert picture.svg == (out / f"{kind}.svg").read_text(encoding="utf-8")
        assert picture._repr_png_().startswith(b"\x89PNG\r\n\x1a\n")
    saved = r.heatmap("cross").save(tmp_path / "cross.svg")
    assert open(saved, encoding="utf-8").read().startswith("<svg") or "<svg" in open(saved).read(500)


def test_a_heatmap_of_some_layers_and_heads(model):
    r = model.translate(SENTENCES[1], attention=True)
    full = r.heatmap("cross")
    assert r.heatmap("cross", layers=[0, 1], heads=[0, 1]).png == full.png
    last = r.heatmap("cross", layers=-1)
    height = lambda png: int.from_bytes(png[20:24], "big")  # the PNG header's IHDR height
    assert height(last.png) < height(full.png)
    assert r.heatmap("cross", layers=-1, heads=1).svg.count('class="cell"') == (
        r.attention["cross"].shape[2] * r.attention["cross"].shape[3])
    with pytest.raises(ValueError, match="heads"):
        r.heatmap("cross", heads=2)
    with pytest.raises(ValueError, match="layers"):
        r.heatmap("cross", layers=[])


def test_repr_html_is_a_sandboxed_iframe_holding_the_page(model):
    r = model.translate(SENTENCES[0], attention=True)
    frame = r._repr_html_()
    assert frame.startswith("<iframe") and frame.endswith("</iframe>")
    assert 'sandbox="allow-scripts"' in frame
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame).group(1)
    assert html.unescape(srcdoc) == r.html()
    assert "<script" not in frame.replace(srcdoc, "")  # the only script is inside the frame
    assert "http://" not in r.html() and "https://" not in r.html()


def test_show_outside_jupyter_writes_the_page(model, capsys):
    r = model.translate(SENTENCES[0], attention=True)
    path = r.show()
    assert open(path, encoding="utf-8").read() == r.html()
    assert path in capsys.readouterr().out


def test_alignment_shows_as_a_table(model):
    a = model.translate(SENTENCES[0]).align()
    table = a._repr_html_()
    assert table.count("<tr>") == len(a.target_labels) + 1
    assert "<b>" in table
    assert "→" in repr(a)


def test_reprs_read_well(model):
    assert repr(model).startswith("attnscope.Model(")
    assert "47,830 parameters" in repr(model)
    r = model.translate(SENTENCES[0], attention=True)
    assert repr(r).startswith("<attnscope.Result '9 Oct 1993' → ")
    assert "cross [2, 2," in repr(r)
    assert "Buffer" in repr(r.attention["cross"].base)


@pytest.mark.parametrize("name", ["Result", "Model", "explain", "train", "load", "Error"])
def test_public_names_have_docstrings(name):
    assert getattr(attnscope, name).__doc__
