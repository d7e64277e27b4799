# Importing attnscope sets OMP_WAIT_POLICY=passive and OPENBLAS_THREAD_TIMEOUT=4 (each only if
# unset) before NumPy and the engine load, and says when another module loaded a library first.
import json
import os
import subprocess
import sys

import attnscope


def run(code, **env):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT")}
    clean.update(env)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


SHOW = "import attnscope, json; print(json.dumps(attnscope.runtime_info()))"


def test_import_sets_the_waiting_policy():
    info = run(SHOW)
    assert info["omp_wait_policy"] == "passive"
    assert info["openblas_thread_timeout"] == "4"
    assert info["set_on_import"] == ["OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT"]
    assert info["applied"] == {"OMP_WAIT_POLICY": True, "OPENBLAS_THREAD_TIMEOUT": True}
    assert info["threads"] >= 1


def test_the_users_settings_win():
    info = run(SHOW, OMP_WAIT_POLICY="active", OPENBLAS_THREAD_TIMEOUT="6")
    assert info["omp_wait_policy"] == "active" and info["openblas_thread_timeout"] == "6"
    assert info["set_on_import"] == []


def test_numpy_first_is_reported():
    info = run("import numpy; " + SHOW)
    assert info["applied"]["OPENBLAS_THREAD_TIMEOUT"] is False  # NumPy loaded OpenBLAS first
    assert info["applied"]["OMP_WAIT_POLICY"] is True


def test_set_num_threads():
    attnscope.set_num_threads(1)
    try:
        assert attnscope.runtime_info()["threads"] == 1
    finally:
        attnscope.set_num_threads(0)


def test_a_python_without_numpy_is_told_what_to_do():
    """A python3 earlier on PATH (a pyenv, a bare venv) often lacks NumPy: the import says so and
    names Debian's python3, instead of failing deep inside."""
    package = os.path.dirname(os.path.dirname(attnscope.__file__))
    code = ("import sys; sys.path = [p for p in sys.path if 'packages' not in p]; "
            f"sys.path.insert(0, {package!r}); import attnscope")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "ImportError: attnscope needs NumPy" in p.stderr
    assert "/usr/bin/python3" in p.stderr
