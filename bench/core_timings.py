"""Median wall time of an exact k-NN graph (N=10,000, D=50, k=30) and a 6-layer Forman flow (N=4000),
with warm caches: run it in two checkouts (two releases) one after the other to compare them on the same
machine state.  python bench/core_timings.py LABEL"""
import numpy as np, time, sys
import ricci_fast as rf
rng = np.random.default_rng(0)
X = rng.normal(size=(10000, 50))
layers = [rng.normal(size=(4000, 50)) for _ in range(6)]
rf.knn_graph(X, 30); rf.ricci_flow(layers, 30, progress=False)
def med(f, n=5):
    ts=[]
    for _ in range(n):
        t=time.perf_counter(); f(); ts.append(time.perf_counter()-t)
    return sorted(ts)[n//2]
print(sys.argv[1] if len(sys.argv) > 1 else "ricci_fast", "knn", round(med(lambda: rf.knn_graph(X, 30)),3), "flow", round(med(lambda: rf.ricci_flow(layers, 30, progress=False), 3),3))
