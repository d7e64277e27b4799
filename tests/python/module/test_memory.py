# The captured maps reach NumPy without a copy: each kind's array views the engine's own buffer
# (the address the engine reports), its base holds that buffer, and it outlives the Result.
# The forward pass's arrays are the caller's own. No leak over 1,000 calls.
import gc
import sys

import numpy as np

import attnscope
from conftest import SENTENCES


def test_arrays_view_the_engines_buffer(model):
    r = model.translate(SENTENCES[1], beam=3, attention=True)
    for kind, a in r.attention.items():
        assert not a.flags.owndata
        assert type(a.base).__name__ == "Buffer" and isinstance(a.base, attnscope._attnscope.Buffer)
        address = a.__array_interface__["data"][0]
        assert address == r._native._attention_address(kind)  # the engine's first map
        assert address == a.base.address
        assert a.base.nbytes == a.nbytes  # every layer of the kind: one block, no copy
        assert not a.flags.writeable  # the Result draws its viewer from the same memory
    # Asking again gives the same memory, not a copy.
    again = r._native.attention(0)["maps"]["cross"]
    assert np.shares_memory(again, r.attention["cross"])


def test_an_array_outlives_its_result(model):
    r = model.translate(SENTENCES[2], attention=True)
    cross = r.attention["cross"]
    expected = cross.copy()
    del r
    gc.collect()
    # Reuse the freed memory of the translation's other objects as hard as we can.
    for s in SENTENCES * 5:
        model.translate(s, attention=True)
    np.testing.assert_array_equal(cross, expected)
    assert sys.getrefcount(cross.base) >= 2


def test_forward_arrays_are_the_callers_own(model):
    src = model.encode(SENTENCES[0])
    tgt = model.encode("1993-10-09", side="target")
    out = model.forward(src, tgt)
    before = out.attention["cross"].copy()
    out.logits[...] = 0  # writable: a copy nobody else sees
    model.forward(model.encode(SENTENCES[1]), model.encode("x", side="target"))
    np.testing.assert_array_equal(out.attention["cross"], before)


def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def test_no_leak_over_a_thousand_calls(model):
    def call(i):
        r = model.translate(SENTENCES[i % len(SENTENCES)], attention=True)
        assert r.attention["cross"].sum() > 0
        out = model.forward([5, 6, 2], [1, 7])
        assert out.logits.shape[0] == 1
        explained = attnscope.explain(seed=i)
        assert explained["weights"].shape == (2, 3, 3)

    for i in range(100):  # warm-up: allocator pools, lazily built caches
        call(i)
    gc.collect()
    refs, objects, rss = sys.getrefcount(model), len(gc.get_objects()), _rss_kib()
    for i in range(1000):
        call(i)
    gc.collect()
    assert sys.getrefcount(model) == refs
    assert len(gc.get_objects()) - objects < 100
    grown = _rss_kib() - rss
    # 1,000 calls each allocate ~100 KiB of maps, logits and explain arrays: a leak of any of
    # them would add ~100 MiB.
    assert grown < 8 * 1024, f"RSS grew by {grown} KiB over 1,000 calls"
