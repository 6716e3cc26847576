"""Exact Ollivier-Ricci on the hub graphs without the transport solvers' own time (issue 11.2).

    python bench/ollivier_nonsolver.py --ab main --kinds gauss50,relu512 --repeat 7

One thread, thread CPU seconds, interleaved runs of git revision REV's exact path (ricci_fast/ollivier.py
and kernels/bitset_transport.py of REV) and the working tree's, each with both compiled solvers swapped
for C callbacks that return at once ("none": what is left is masks, masses, twins, copies and
scheduling), and then with the real solvers ("real"; REV's solvers compiled here, uncached).  Prints
min and median per side and their ratios; "real" also checks that the values are bit-identical.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import ricci_fast as rf  # noqa: E402
from ricci_fast import ollivier  # noqa: E402
from ricci_fast.kernels import transport_solvers  # noqa: E402
from _timing import module_at  # noqa: E402
from ollivier import HUB_LABELS, hub_layer, hub_size  # noqa: E402


def _noop_word(src_mask, supply, snk_mask, demand, c1, c2, flow, pi_u, pi_v, pot_mask, tight, fmask, rs, rd,
               dist_u, dist_v, lvl_u, lvl_v, stack, bucket_u, bucket_v):
    return 0.0, 0


def _noop_bitset(n_words, src_mask, supply, n_snk, demand, c1, c2, mk, bint, bflt, lint, lflt, a_src, a_amt,
                 a_next):
    return 0.0, 0


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--ab", default="main", metavar="REV")
    parser.add_argument("--kinds", default="gauss50,relu512")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--modes", default="none,real")
    args = parser.parse_args(argv)
    from numba import cfunc

    old_bt = module_at(args.ab, "kernels/bitset_transport.py", "bitset_transport_rev")
    old = module_at(args.ab, "ricci_fast/ollivier.py", "ollivier_rev")
    old._bitset = old_bt
    noop = SimpleNamespace(word_solver=lambda f=cfunc(transport_solvers.WORD_SIGNATURE)(_noop_word): f,
                           bitset_solver=lambda f=cfunc(transport_solvers.BITSET_SIGNATURE)(_noop_bitset): f)
    print(f"exact path at {args.ab} (old) against the working tree (new), one thread, CPU s\n")
    print("| graph | solvers | old min / median | new min / median | new / old (min, median) |\n|---|---|---|---|---|")
    for mode in args.modes.split(","):
        if mode == "real":
            old_solvers = SimpleNamespace(
                word_solver=lambda f=cfunc(transport_solvers.WORD_SIGNATURE)(old_bt.word_transport): f,
                bitset_solver=lambda f=cfunc(transport_solvers.BITSET_SIGNATURE)(old_bt.bitset_transport): f)
            new_solvers = transport_solvers
        else:
            old_solvers = new_solvers = noop
        old._solvers = old_solvers
        sides = (("old", old), ("new", ollivier))
        try:
            ollivier._solvers = new_solvers
            for kind in args.kinds.split(","):
                graph = rf.knn_graph(hub_layer(kind, hub_size(kind, False)), 30)
                values = {name: module._exact(graph, 0.0, n_threads=1) for name, module in sides}
                if mode == "real":
                    assert np.array_equal(values["old"], values["new"]), "the two revisions' values differ"
                times = {"old": [], "new": []}
                for _ in range(args.repeat):
                    for name, module in sides:
                        start = time.thread_time()
                        module._exact(graph, 0.0, n_threads=1)
                        times[name].append(time.thread_time() - start)
                (o1, o2), (n1, n2) = ((min(times[s]), float(np.median(times[s]))) for s in ("old", "new"))
                print(f"| {HUB_LABELS[kind]}, N={hub_size(kind, False)} | {mode} | {o1:.3f} / {o2:.3f} | "
                      f"{n1:.3f} / {n2:.3f} | {n1 / o1:.3f}, {n2 / o2:.3f} |", flush=True)
        finally:
            ollivier._solvers = transport_solvers
    print(f"\nload: {os.getloadavg()[0]:.2f} (1-minute average)")


if __name__ == "__main__":
    main()
