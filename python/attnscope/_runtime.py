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

import os

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
