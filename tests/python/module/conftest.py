# Tests of the Python module (python/attnscope) over the built extension: ctest runs them as
# Python.Module with PYTHONPATH=<build>/python and ATTNSCOPE_BINARY=<build>/attnscope (the CLI the
# arrays are compared with). By hand, from the repository root:
#   PYTHONPATH=build/python ATTNSCOPE_BINARY=build/attnscope /usr/bin/python3 -m pytest tests/python/module
import json
import os
import subprocess
from pathlib import Path

import pytest

import attnscope

REPO = Path(__file__).resolve().parents[3]
MODEL = REPO / "tests" / "data" / "tiny_dates_model"
SENTENCES = ["9 Oct 1993", "terça-feira, 12 de outubro de 1993", "25 de dezembro de 1969", "1/2/2003"]


def binary():
    path = os.environ.get("ATTNSCOPE_BINARY")
    if not path:  # beside the package: <build>/python/attnscope/.. /.. /attnscope
        path = str(Path(attnscope.__file__).resolve().parents[2] / "attnscope")
    assert os.path.exists(path), f"the attnscope CLI {path} is missing (set ATTNSCOPE_BINARY)"
    return path


def run_cli(*args, stdin=None):
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    p = subprocess.run([binary(), *map(str, args)], input=stdin, capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode == 0, f"attnscope {' '.join(map(str, args))} failed:\n{p.stderr}"
    return p


def cli_attention(tmp_path, sentence, *flags):
    """attention.json (and the folder) `attnscope attention` writes for one sentence."""
    out = tmp_path / "cli"
    run_cli("attention", "--model", MODEL, "--out", out, *flags, sentence)
    return json.loads((out / "attention.json").read_text(encoding="utf-8")), out


@pytest.fixture(scope="session")
def model():
    return attnscope.load(MODEL)
