# scripts/prepare-data.py on small inputs made here: the three preparations and their errors.
# (The real corpora are checked by scripts/get-data.sh against scripts/corpora/SHA256SUMS.)
import importlib.util
import io
import os
import re
import tarfile

import pytest

from conftest import ROOT

_spec = importlib.util.spec_from_file_location(
    "prepare_data", os.path.join(ROOT, "scripts", "prepare-data.py"))
prep = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prep)


def write(path, data):
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


def run(*argv):
    return prep.main([str(a) for a in argv])


# ------------------------------------------------------------------------------------------------
# paste

def test_paste_drops_bom_cr_and_surrounding_spaces(tmp_path):
    por = write(tmp_path / "p", "\ufeffOlá mundo.\r\n  Dois  espaços. \r\n")
    eng = write(tmp_path / "e", "Hello world.\n Two  spaces.\n")
    out = tmp_path / "out" / "x.tsv"
    assert run("paste", "--out", out, por, eng) == 0
    assert out.read_bytes() == "Olá mundo.\tHello world.\nDois  espaços.\tTwo  spaces.\n".encode()
    assert not os.path.exists(str(out) + ".tmp")


@pytest.mark.parametrize("por, eng, message", [
    ("a\nb\n", "a\n", "p has 2 lines but .*e has 1: not a line-aligned pair of files"),
    ("a\tb\n", "a\n", r"p:1: a tab inside a sentence would break the TSV"),
    ("ok\n", b"ok\n\xff\xfe\n", r"e:2: not UTF-8"),
])
def test_paste_rejects(tmp_path, capsys, por, eng, message):
    p, e = write(tmp_path / "p", por), write(tmp_path / "e", eng)
    out = tmp_path / "x.tsv"
    assert run("paste", "--out", out, p, e) == 1
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists()


def test_paste_names_a_missing_file(tmp_path, capsys):
    assert run("paste", "--out", tmp_path / "x.tsv", tmp_path / "nope", tmp_path / "nope2") == 1
    assert "nope: cannot read" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# select

def keys_file(path, lines):
    write(path, "# a comment\n" + "".join(prep.line_key(line) + "\n" for line in lines))


def test_select_orders_repeats_and_normalises(tmp_path):
    # Two releases; a pair in both; a pair with extra whitespace; pairs the keys do not list.
    write(tmp_path / "a.por", "Bom dia.\nObrigado.\nNão listado.\n")
    write(tmp_path / "a.eng", "Good morning.\nThank you.\nNot listed.\n")
    write(tmp_path / "b.por", "Obrigado.\n  Boa  noite. \n")
    write(tmp_path / "b.eng", "Thank you.\nGood night.\n")
    keys = tmp_path / "keys"
    keys.mkdir()
    train = ["Obrigado.\tThank you.", "Bom dia.\tGood morning.", "Obrigado.\tThank you."]
    keys_file(keys / "train.keys", train)
    keys_file(keys / "test.keys", ["Boa noite.\tGood night."])
    out = tmp_path / "out"
    assert run("select", "--keys", keys, "--out", out, tmp_path / "a.por", tmp_path / "a.eng",
               tmp_path / "b.por", tmp_path / "b.eng") == 0
    assert (out / "train.tsv").read_text("utf-8") == "".join(line + "\n" for line in train)
    assert (out / "test.tsv").read_text("utf-8") == "Boa noite.\tGood night.\n"


def test_select_reports_missing_and_ambiguous_keys(tmp_path, capsys, monkeypatch):
    write(tmp_path / "p", "Um.\nDois.\n")
    write(tmp_path / "e", "One.\nTwo.\n")
    keys = tmp_path / "keys"
    keys.mkdir()
    keys_file(keys / "train.keys", ["Um.\tOne.", "Três.\tThree."])
    assert run("select", "--keys", keys, "--out", tmp_path / "o", tmp_path / "p",
               tmp_path / "e") == 1
    err = capsys.readouterr().err
    assert "train.keys: listed pairs in none of the source files: 1" in err
    assert not (tmp_path / "o" / "train.tsv").exists()

    # With 1-digit keys, 16 pairs must share a key somewhere: two pairs behind one key is an error.
    monkeypatch.setattr(prep, "KEY_HEX_DIGITS", 1)
    write(tmp_path / "p", "".join(f"p{i}\n" for i in range(17)))
    write(tmp_path / "e", "".join(f"e{i}\n" for i in range(17)))
    index = prep.candidate_index([(str(tmp_path / "p"), str(tmp_path / "e"))])
    assert None in index.values()
    shared = next(k for k, v in index.items() if v is None)
    write(keys / "train.keys", shared + "\n")
    with pytest.raises(prep.PrepError, match="keys that match two different pairs: 1"):
        prep.select(str(keys / "train.keys"), index)


@pytest.mark.parametrize("content, message", [
    ("# only a comment\n", "no keys"),
    ("abc\n", "train.keys:1: not a key"),
    ("0123456789\nXYZ0123456\n", "train.keys:2: not a key"),
])
def test_select_rejects_bad_keys_files(tmp_path, content, message):
    write(tmp_path / "train.keys", content)
    with pytest.raises(prep.PrepError, match=message):
        prep.read_keys(str(tmp_path / "train.keys"))


def test_select_needs_pairs_of_files(tmp_path, capsys):
    (tmp_path / "keys").mkdir()
    keys_file(tmp_path / "keys" / "x.keys", ["a\tb"])
    assert run("select", "--keys", tmp_path / "keys", "--out", tmp_path, tmp_path / "p") == 1
    assert "an even number of files, got 1" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# libreoffice

def page(body):
    return f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>\n"


def make_deb(path, files, compression="xz"):
    """A Debian package: an ar archive holding debian-binary, control and data.tar.<compression>
    with the given {path: text} files."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode=f"w:{compression}") as tar:
        for name, text in files.items():
            raw = text.encode("utf-8")
            info = tarfile.TarInfo("./" + name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    members = [("debian-binary", b"2.0\n"), ("control.tar.xz", b"x"),
               (f"data.tar.{compression}", data.getvalue())]
    out = b"!<arch>\n"
    for name, body in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(body):<10}".encode() + b"`\n"
        out += body + (b"\n" if len(body) % 2 else b"")
    path.write_bytes(out)
    return str(path)


HELP = "usr/share/libreoffice/help/"


def test_libreoffice_pairs_follow_the_rules(tmp_path, capsys):
    en = {
        # A folder of the recorded order: its pages in sorted order.
        "text/shared/b.html": page(
            '<p id="par_id1" class="paragraph">Second page <span class="menuitem">first</span> '
            'paragraph here.</p>'),
        "text/shared/a.html": page(
            '<h1 id="hd_id1">Two words</h1>'                                  # < 3 words
            '<p id="par_id2">Use the <span>Command</span><span>Ctrl</span> key here.</p>'
            '<p id="par_id3">Line one<br>line two here.</p>'
            '<p id="par_id4">Same text in both.</p>'                          # untranslated
            '<p id="par_id5">Long enough English sentence.</p>'               # pt too short
            '<p id="par_id2">A second element with the same id.</p>'          # first one wins
            '<p id="other_id">An id that is not par_id or hd_id.</p>'
            '<div id="par_id6">A div is neither a paragraph nor a heading.</div>'
            '<h2 id="hd_id7">Heading with four words</h2>'
            '<p id="par_id12">Form Design toolbar</p>'        # 2.16 in characters, 2.21 in bytes
            '<p id="par_id8">Second page first paragraph here.</p>'),  # b.html's pair: kept here
        # Listed earlier than text/shared: "." comes first.
        "top.html": page('<p id="par_id9">The top folder comes first.</p>'),
        # Not in the recorded order: last, with a warning.
        "text/zz/new.html": page('<p id="par_id10">A folder nobody knew about.</p>'),
        # No Portuguese page: skipped.
        "text/shared/only_en.html": page('<p id="par_id11">Only in English here.</p>'),
    }
    pt = {
        "text/shared/b.html": page('<p id="par_id1">Primeiro parágrafo da segunda página.</p>'),
        "text/shared/a.html": page(
            '<h1 id="hd_id1">Duas palavras</h1>'
            '<p id="par_id2">Use a tecla ComandoCtrl aqui.</p>'
            '<p id="par_id3">Linha um<br/>linha dois aqui.</p>'
            '<p id="par_id4">Same text in both.</p>'
            '<p id="par_id5">Curta.</p>'
            '<p id="par_id2">Outro elemento.</p>'
            '<p id="other_id">Um id diferente.</p>'
            '<div id="par_id6">Um div.</div>'
            '<h2 id="hd_id7">Título com quatro palavras</h2>'
            '<p id="par_id12">Barra de ferramentas Design de formulário</p>'
            '<p id="par_id8">Primeiro parágrafo da segunda página.</p>'),
        "top.html": page('<p id="par_id9">A pasta do topo vem primeiro.</p>'),
        "text/zz/new.html": page('<p id="par_id10">Uma pasta que ninguém conhecia.</p>'),
    }
    en_deb = make_deb(tmp_path / "en.deb", {HELP + "en-US/" + k: v for k, v in en.items()})
    pt_deb = make_deb(tmp_path / "pt.deb", {HELP + "pt-BR/" + k: v for k, v in pt.items()}, "gz")
    out = tmp_path / "train.tsv"
    assert run("libreoffice", "--out", out, en_deb, pt_deb) == 0
    assert out.read_text("utf-8").split("\n") == [
        "A pasta do topo vem primeiro.\tThe top folder comes first.",
        "Use a tecla ComandoCtrl aqui.\tUse the CommandCtrl key here.",
        "Linha um linha dois aqui.\tLine one line two here.",
        "Título com quatro palavras\tHeading with four words",
        "Primeiro parágrafo da segunda página.\tSecond page first paragraph here.",
        "Uma pasta que ninguém conhecia.\tA folder nobody knew about.",
        "",
    ]
    assert "help folders not in the recorded order, taken last: text/zz" in capsys.readouterr().err


def ar(name, size, body):
    """An ar archive with one member whose header claims `size` bytes."""
    return (b"!<arch>\n" + f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{size:<10}".encode() + b"`\n"
            + body)


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"not an archive"), "not a Debian package"),
    (lambda p: p.write_bytes(ar("debian-binary", 4, b"2.0\n")), "no data.tar member"),
    (lambda p: p.write_bytes(ar("data.tar.xz", 999, b"xx")),
     "corrupt or truncated ar member 'data.tar.xz'"),
    (lambda p: p.write_bytes(ar("data.tar.zst", 2, b"xx")), "zstd-compressed"),
    (lambda p: make_deb(p, {HELP + "en-US/a.html": page(""), HELP + "de/a.html": page("")}),
     r"the help pages of one language under usr/share/libreoffice/help/, found \['de', 'en-US'\]"),
])
def test_libreoffice_rejects(tmp_path, capsys, make, message):
    bad = tmp_path / "bad.deb"
    make(bad)
    good = make_deb(tmp_path / "pt.deb", {HELP + "pt-BR/a.html": page("")})
    assert run("libreoffice", "--out", tmp_path / "o.tsv", bad, good) == 1
    assert re.search(message, capsys.readouterr().err)


def test_libreoffice_wants_english_then_portuguese(tmp_path, capsys):
    en = make_deb(tmp_path / "en.deb", {HELP + "en-US/a.html": page("")})
    pt = make_deb(tmp_path / "pt.deb", {HELP + "pt-BR/a.html": page("")})
    assert run("libreoffice", "--out", tmp_path / "o.tsv", pt, en) == 1
    assert "expected the en-US and pt-BR help packages, got pt-BR" in capsys.readouterr().err
