"""attnscope: encoder–decoder Transformers for translation, and every attention map they compute
(encoder self, masked decoder self, cross; every layer and head) as NumPy arrays, analyses and an
interactive viewer that shows inline in Jupyter. The engine is the C++ library of the attnscope
CLI; this package calls it directly (no subprocess). The API: docs/python.md.

    import attnscope
    m = attnscope.load("attnscope-demo/model")
    r = m.translate("terça-feira, 12 de outubro de 1993", beam=4, attention=True)
    r.text, r.source_tokens, r.target_tokens
    r.attention["cross"]        # float32 [layers, heads, target tokens, source tokens]
    r                           # in Jupyter: the attention viewer
    attnscope.explain(batch=2, length=3, dim=4)
"""

# First: the thread-waiting settings must be in the environment before NumPy and the engine load.
from . import _runtime  # noqa: F401  (imported for its effect)
from ._runtime import check_python, runtime_info

check_python()  # NumPy and the compiled engine for this Python, or an ImportError that says why

from ._attnscope import Error, set_num_threads
from .explain import Explanation, Step, explain
from .model import ForwardOutput, Model, load
from .result import Alignment, Hypothesis, Picture, Result
from .train import TrainResult, train

__version__ = "0.1.0"

Error.__module__ = "attnscope"
Error.__doc__ = (
    "An error the engine reports: a bad model directory (the message names the file), a broken "
    "file, an option it cannot use. A subclass of RuntimeError."
)

__all__ = [
    "Alignment",
    "Error",
    "Explanation",
    "ForwardOutput",
    "Hypothesis",
    "Model",
    "Picture",
    "Result",
    "Step",
    "TrainResult",
    "explain",
    "load",
    "runtime_info",
    "set_num_threads",
    "train",
]
