# scripts/get-data.sh without a network: its arguments, --check, and a run from a file:// mirror
# whose files are not the real ones (so nothing may be installed). The real corpora's checksums
# are exercised by running it for real (docs/benchmarks.md).
import hashlib
import os
import subprocess

import pytest

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "get-data.sh")
SUMS = os.path.join(ROOT, "scripts", "corpora", "SHA256SUMS")


def get_data(*args):
    return subprocess.run(["bash", SCRIPT, *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_help():
    r = get_data("--help")
    assert r.returncode == 0
    assert "--data" in r.stdout and "tatoeba-pt-en" in r.stdout and "SHA256SUMS" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "unknown argument '--bogus'"),
    (["tatoeba"], "unknown argument 'tatoeba'"),
    (["--data"], "--data needs a value"),
    (["--mirror", ""], "--mirror needs a value"),
    (["--mirror", "/nonexistent-folder"], "/nonexistent-folder is neither a URL nor a folder"),
])
def test_bad_arguments_fail_before_any_work(tmp_path, args, message):
    r = get_data(*args)
    assert r.returncode == 2
    assert message in r.stderr


def test_sums_cover_every_corpus_file():
    with open(SUMS) as f:
        paths = [line.split()[1] for line in f if line.strip() and not line.startswith("#")]
    assert paths == ["tatoeba-pt-en/train.tsv", "tatoeba-pt-en/dev.tsv", "tatoeba-pt-en/test.tsv",
                     "news-pt-en/flores200-devtest.tsv", "news-pt-en/ntrex128.tsv",
                     "libreoffice-help-pt-en/train.tsv"]


def test_check_reports_missing_and_wrong_files(tmp_path):
    r = get_data("--check", "--data", tmp_path)
    assert r.returncode == 1
    assert f"tatoeba-pt-en: not in {tmp_path}" in r.stderr

    (tmp_path / "news-pt-en").mkdir()
    (tmp_path / "news-pt-en" / "ntrex128.tsv").write_text("a\tb\n")
    r = get_data("--check", "--data", tmp_path, "news-pt-en")
    assert r.returncode == 1
    got = hashlib.sha256(b"a\tb\n").hexdigest()
    assert "news-pt-en/flores200-devtest.tsv: missing" in r.stderr
    assert f"news-pt-en/ntrex128.tsv: SHA-256 {got}, expected d19e1938" in r.stderr


def test_a_corpus_that_does_not_verify_is_not_installed(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in ("flores200-devtest.por_Latn", "ntrex128.por"):
        (mirror / name).write_text("Olá.\nAdeus.\n")
    for name in ("flores200-devtest.eng_Latn", "ntrex128.eng"):
        (mirror / name).write_text("Hello.\nGoodbye.\n")
    data = tmp_path / "data"
    r = get_data("--data", data, "--mirror", f"file://{mirror}", "news-pt-en", "tatoeba-pt-en")
    assert r.returncode == 1, r.stderr
    assert "news-pt-en: the prepared files do not match" in r.stderr
    assert "tatoeba-pt-en: FAILED to fetch or prepare" in r.stderr  # its files are not there
    assert "not installed: news-pt-en tatoeba-pt-en" in r.stderr  # in the order asked
    # Nothing installed, the unverified result kept aside, no temporary folder left behind.
    assert sorted(os.listdir(data)) == ["news-pt-en.unverified"]
    assert (data / "news-pt-en.unverified" / "ntrex128.tsv").read_text() == \
        "Olá.\tHello.\nAdeus.\tGoodbye.\n"

    # A folder in the way that does not verify is left alone without --force. (The mirror given
    # as a plain folder this time.)
    (data / "news-pt-en").mkdir()
    r = get_data("--data", data, "--mirror", mirror, "news-pt-en")
    assert r.returncode == 1
    assert "is there but does not match" in r.stderr and "rerun with --force" in r.stderr
    assert os.listdir(data / "news-pt-en") == []
