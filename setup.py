"""Builds attnscope's compiled module with CMake for `pip install --no-build-isolation .`
(pyproject.toml holds the package's metadata). The extension is the CMake target
attnscope_python, built for the Python that runs pip (its NumPy and headers); the C++ build is
the repository's own, in build-pip/cmake, with -march=native like the CLI's."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = Path(self.build_temp).resolve() / "cmake"
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
            "-DATTNSCOPE_BUILD_TESTS=OFF", "-DATTNSCOPE_BUILD_BENCH=OFF",
            "-DATTNSCOPE_PYTHON=REQUIRED", f"-DPython3_EXECUTABLE={sys.executable}",
        ]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        if shutil.which("ccache"):
            configure += ["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]
        subprocess.run(configure, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.run(["cmake", "--build", str(build), "--target", "attnscope_python",
                        "-j", jobs], check=True)
        built = sorted((build / "python" / "attnscope").glob("_attnscope*.so"))
        if not built:
            raise RuntimeError(f"CMake built no _attnscope module in {build}/python/attnscope")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[-1], target)


setup(
    ext_modules=[CMakeExtension("attnscope._attnscope")],
    cmdclass={"build_ext": CMakeBuild},
    # Beside CMake's build/ (git-ignored, like every build-*/).
    options={"build": {"build_base": "build-pip"}, "egg_info": {"egg_base": "build-pip"}},
)
