# The GIL is free while the engine works: a Python thread keeps running while another translates
# (a probe counts its own steps during the translation), two models translate at once, and calls
# on one model from two threads wait for each other and stay correct.
import threading
import time

import attnscope
from conftest import MODEL, SENTENCES

BATCH = SENTENCES * 120  # 480 sentences, beam 4: long enough to watch (about half a second)


def test_python_runs_while_the_engine_translates(model):
    """While a worker thread is inside translate(), the main thread keeps executing Python: the
    longest pause between its steps is far shorter than the translation. With the GIL held, the
    main thread would stop for the whole call."""
    done = threading.Event()
    span = {}

    def worker():
        # Translations until at least half a second has passed: long enough to watch on a fast
        # or idle machine too.
        span["start"] = time.perf_counter()
        while time.perf_counter() - span["start"] < 0.5:
            model.translate(BATCH, beam=4, attention=True)
        span["end"] = time.perf_counter()
        done.set()

    stamps = []
    t = threading.Thread(target=worker)
    t.start()
    while not done.is_set():
        stamps.append(time.perf_counter())
    t.join()
    inside = [s for s in stamps if span["start"] <= s <= span["end"]]
    duration = span["end"] - span["start"]
    assert len(inside) > 100, f"the main thread ran {len(inside)} steps during {duration:.2f} s"
    edges = [span["start"], *inside, span["end"]]
    longest = max(b - a for a, b in zip(edges, edges[1:]))
    assert longest < 0.5 * duration, (
        f"the main thread stopped for {longest:.3f} s of a {duration:.3f} s translation"
    )


def test_two_models_translate_at_once_and_agree():
    a, b = attnscope.load(MODEL), attnscope.load(MODEL)
    expected = [r.text for r in a.translate(BATCH, beam=2)]
    results = {}

    def run(name, m):
        results[name] = [r.text for r in m.translate(BATCH, beam=2)]

    threads = [threading.Thread(target=run, args=(n, m)) for n, m in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["a"] == expected and results["b"] == expected


def test_one_model_from_two_threads_serialises(model):
    expected = [r.text for r in model.translate(SENTENCES, attention=True)]
    out = [None] * 6
    errors = []

    def run(i):
        try:
            out[i] = [r.text for r in model.translate(SENTENCES, attention=True)]
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(o == expected for o in out)
