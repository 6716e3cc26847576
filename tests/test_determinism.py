"""Approximate k-NN (NN-descent) gives the same graph for a given seed whatever the thread count."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("pynndescent")

# one subprocess (pynndescent compiles once; its OpenMP threads stay out of the test process, which
# later forks DataLoader workers), the thread count changed between the runs
_CODE = """
import hashlib, json, numba, numpy as np, ricci_fast as rf
from ricci_fast._parallel import num_threads
X = np.random.default_rng(5).normal(size=(2000, 16))
out = {}
for threads in (1, 2, 1):
    numba.set_num_threads(threads)
    with num_threads(threads):
        g = rf.knn_graph(X, 10, method="approximate", random_state=0)
    out.setdefault(threads, []).append(hashlib.sha256(g.indptr.tobytes() + g.indices.tobytes()
                                                      + g.knn_indices.tobytes()).hexdigest())
print(json.dumps(out))
"""


def test_approximate_graph_is_the_same_with_1_and_2_threads():
    # with pynndescent's own parallel NN-descent, 44% of the candidate rows differed between 1 and 2 threads
    env = dict(os.environ, NUMBA_NUM_THREADS="2", RICCI_FAST_NUM_THREADS="2")
    result = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    hashes = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(set(hashes["1"] + hashes["2"])) == 1, hashes
