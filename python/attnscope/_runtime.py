"""How the engine's threads wait, set before the engine loads (docs/python.md, "Threads").

libgomp (OpenMP) and OpenBLAS read how their idle threads wait once, when they load. Spinning
workers make the engine's many small parallel regions far slower whenever cores are shared, so
the attnscope CLI restarts itself once with OMP_WAIT_POLICY=passive and
OPENBLAS_THREAD_TIMEOUT=4 (each only if unset). A module cannot restart the interpreter: this
file sets the same two variables, each only if unset, before the package imports NumPy (which
loads OpenBLAS) or the engine (which loads libgomp). That is in time unless another module
loaded one of those libraries before `import attnscope` (`import numpy` first loads OpenBLAS;
`import torch` loads libgomp): runtime_info() says what applied. The engine works either way;
only its speed on busy cores differs.
"""

import glob
import importlib.util
import os
import sys

SETTINGS = {"OMP_WAIT_POLICY": "passive", "OPENBLAS_THREAD_TIMEOUT": "4"}


def _mapped(fragment):
    """Whether a shared library whose path holds `fragment` is loaded in this process."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return any(fragment in line for line in maps)
    except OSError:
        return False


LOADED_BEFORE = {
    "OMP_WAIT_POLICY": _mapped("libgomp"),
    "OPENBLAS_THREAD_TIMEOUT": _mapped("openblas"),
}
SET_ON_IMPORT = []
for _name, _value in SETTINGS.items():
    if _name not in os.environ:
        os.environ[_name] = _value
        SET_ON_IMPORT.append(_name)


def runtime_info():
    """The engine's threads and how they wait, as a dict.

    threads / blas_threads: OpenMP and OpenBLAS threads the next call uses (OMP_NUM_THREADS,
    attnscope.set_num_threads); omp_wait_policy / openblas_thread_timeout: the variables as the
    process has them; applied: for each of the two, whether the library read it (True), or was
    loaded by another module before attnscope set it (False: its threads spin while idle);
    plus the CPU, the instruction sets the engine was built for and picked, and OpenBLAS's build.
    """
    from . import _attnscope

    info = _attnscope._environment()
    info["set_on_import"] = list(SET_ON_IMPORT)
    info["applied"] = {
        name: not (name in SET_ON_IMPORT and LOADED_BEFORE[name]) for name in SETTINGS
    }
    return info


def check_python():
    """Raises ImportError saying what to do when this Python cannot run attnscope: it lacks NumPy
    (a pyenv or venv python3 earlier on PATH often does; Debian's /usr/bin/python3 with
    python3-numpy has it), or the engine was compiled for another Python version."""
    if importlib.util.find_spec("numpy") is None:
        raise ImportError(
            f"attnscope needs NumPy, and {sys.executable} has none. Use Debian's python3 "
            "(/usr/bin/python3, apt-get install python3-numpy; scripts/install-deps.sh installs "
            "it), or install numpy for this Python."
        )
    here = os.path.dirname(os.path.abspath(__file__))
    if importlib.util.find_spec("attnscope._attnscope") is None:
        built = [os.path.basename(p) for p in glob.glob(os.path.join(here, "_attnscope*.so"))]
        raise ImportError(
            f"attnscope's engine is not built for this Python ({sys.executable}, "
            f"{sys.version_info.major}.{sys.version_info.minor}): {here} holds "
            f"{', '.join(built) or 'no _attnscope module'}. Build it for this Python "
            "(cmake -DPython3_EXECUTABLE=..., or pip install --no-build-isolation .), or use the "
            "Python it was built for (Debian's /usr/bin/python3)."
        )
