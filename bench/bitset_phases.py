"""The multi-word exact transport solver (kernels/bitset_transport.py: bitset_transport) on the real
problems of the hub graphs: where its time goes, phase by phase, and old against new on the same problems.

    python bench/bitset_phases.py --kinds gauss50,relu512            # phase statistics + solver time
    python bench/bitset_phases.py --kinds gauss50 --every 4 --ab main # also that revision's solver, same problems

The problems are captured from the exact path itself (`ricci_fast.ollivier._exact`, one thread): its
bitset_transport callback is swapped for a C callback that copies every --every-th problem into a buffer
(by address: a C callback cannot reach Python objects) and returns at once.  Then, one thread:
- the solver (the compiled C callback, as the range kernels call it) on all captured problems, thread CPU
  seconds, median of --repeat, by the number of words W; with --ab REV, that revision's solver on the same
  problems, interleaved, and the totals must be bit-identical;
- an instrumented copy of the solver (bench/_bitset_instrumented.py: the kernel's source with counters
  inserted at marked statements, compiled with @njit here, not in the package) counts, per problem: sinks,
  words, passes, Dijkstra runs, Dinic rounds, BFS depth, augmenting paths, mass placed by the greedy pushes
  and by the augmenting paths.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from llvmlite import ir as llvm_ir
from numba import carray, cfunc, njit, types
from numba.extending import intrinsic

sys.path.insert(0, os.path.dirname(__file__))

import ricci_fast as rf  # noqa: E402
from ricci_fast import ollivier  # noqa: E402
from ricci_fast.kernels import bitset_transport as bt  # noqa: E402
from _timing import module_at  # noqa: E402
from ricci_fast.kernels import transport_solvers  # noqa: E402


@intrinsic
def _as_pointer(typingctx, address):
    """int64 address -> void pointer (the capture buffer's, baked into the callback as a constant)."""
    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], llvm_ir.IntType(8).as_pointer())

    return types.voidptr(types.int64), codegen


# buffer layout: header[0] = calls seen, [1] = problems kept, [2] = words of `ints` used, [3] = floats used,
# [4] = problems skipped for lack of room; per kept problem, ints: W, n, then src_mask (W), c1 (n W), c2 (n W);
# floats: supply (64 W), demand (n)
def _capture_solver(every, ints, floats, index, header):
    a_int, n_int = ints.ctypes.data, ints.shape[0]
    a_flt, n_flt = floats.ctypes.data, floats.shape[0]
    a_idx, n_idx = index.ctypes.data, index.shape[0]
    a_hdr = header.ctypes.data

    def capture(n_words, src_mask, supply, n_snk, demand, c1, c2, mk, bint, bflt, lint, lflt, a_src, a_amt,
                a_next):
        hdr = carray(_as_pointer(a_hdr), 8, np.int64)
        iv = carray(_as_pointer(a_int), n_int, np.uint64)
        fv = carray(_as_pointer(a_flt), n_flt, np.float64)
        ix = carray(_as_pointer(a_idx), n_idx, np.int64)
        calls = hdr[0]
        hdr[0] = calls + 1
        if calls % every != 0:
            return 0.0, 0
        W = n_words
        n = n_snk
        ni = 2 + W + 2 * n * W
        nf = 64 * W + n
        k = hdr[1]
        if hdr[2] + ni > n_int or hdr[3] + nf > n_flt or 2 * k + 2 > n_idx:
            hdr[4] += 1
            return 0.0, 0
        o = hdr[2]
        of = hdr[3]
        ix[2 * k] = o
        ix[2 * k + 1] = of
        iv[o] = np.uint64(W)
        iv[o + 1] = np.uint64(n)
        for w in range(W):
            iv[o + 2 + w] = src_mask[w]
        for i in range(n * W):
            iv[o + 2 + W + i] = c1[i]
            iv[o + 2 + W + n * W + i] = c2[i]
        for i in range(64 * W):
            fv[of + i] = supply[i]
        for i in range(n):
            fv[of + 64 * W + i] = demand[i]
        hdr[1] = k + 1
        hdr[2] = o + ni
        hdr[3] = of + nf
        return 0.0, 0

    return cfunc(transport_solvers.BITSET_SIGNATURE)(capture)


class Corpus:
    def __init__(self, ints, floats, index, n_problems):
        self.ints, self.floats, self.index, self.n = ints, floats, index, n_problems
        self.W = np.array([int(ints[index[2 * k]]) for k in range(n_problems)])
        self.n_snk = np.array([int(ints[index[2 * k] + 1]) for k in range(n_problems)])


def capture(graph, every, mib=1536):
    ints = np.zeros(mib * 2**20 // 8 * 3 // 4, np.uint64)
    floats = np.zeros(mib * 2**20 // 8 // 4, np.float64)
    index = np.zeros(4_000_000, np.int64)
    header = np.zeros(8, np.int64)
    solver = _capture_solver(every, ints, floats, index, header)
    saved = ollivier._solvers
    from types import SimpleNamespace

    ollivier._solvers = SimpleNamespace(word_solver=transport_solvers.word_solver, bitset_solver=lambda: solver)
    try:
        ollivier._exact(graph, 0.0, n_threads=1)
    finally:
        ollivier._solvers = saved
    if header[4]:
        print(f"  (capture buffer full: {header[4]} problems not kept)")
    return Corpus(ints, floats, index, int(header[1])), int(header[0])


@njit(nogil=True)
def problem_at(ints, floats, index, k):
    """Problem k of a captured corpus as the solver takes it: (W, n, source mask, c1, c2, supply, demand)."""
    o = index[2 * k]
    of = index[2 * k + 1]
    W = np.int64(ints[o])
    n = np.int64(ints[o + 1])
    src = ints[o + 2:o + 2 + W]
    c1 = ints[o + 2 + W:o + 2 + W + n * W]
    c2 = ints[o + 2 + W + n * W:o + 2 + W + 2 * n * W]
    return W, n, src, c1, c2, floats[of:of + 64 * W], floats[of + 64 * W:of + 64 * W + n]


@njit(nogil=True)
def _run_all(ints, floats, index, pick, solve, mk, bint, bflt, lint, lflt, a_src, a_amt, a_next, totals):
    """Solve the picked problems; a full arena is grown (here, by doubling) and the problem solved again."""
    for t in range(pick.shape[0]):
        k = pick[t]
        W, n, src, c1, c2, sup, dem = problem_at(ints, floats, index, k)
        while True:
            total, status = solve(W, src, sup, n, dem, c1, c2, mk, bint, bflt, lint, lflt, a_src, a_amt, a_next)
            if status != bt.STATUS_ARENA:
                break
            a_src = np.zeros(2 * a_src.shape[0], np.int64)
            a_amt = np.zeros(2 * a_src.shape[0], np.float64)
            a_next = np.zeros(2 * a_src.shape[0], np.int64)
        if status != bt.STATUS_OK:
            totals[t] = np.nan
        else:
            totals[t] = total
    return totals


def _scratch(corpus):
    W = int(corpus.W.max())
    n = int(corpus.n_snk.max())
    s = bt.scratch_sizes(W, n)
    arena = 4 * (64 * W + n) + 1024
    return (np.zeros(s["mk"], np.uint64), np.zeros(s["bint"], np.int64), np.zeros(s["bflt"]),
            np.zeros(s["lint"], np.int64), np.zeros(s["lflt"]), np.zeros(arena, np.int64), np.zeros(arena),
            np.zeros(arena, np.int64))


def solve_all(corpus, solve, pick=None):
    pick = np.arange(corpus.n) if pick is None else pick
    totals = np.zeros(pick.shape[0])
    start = time.thread_time()
    _run_all(corpus.ints, corpus.floats, corpus.index, pick, solve, *_scratch(corpus), totals)
    return time.thread_time() - start, totals


def old_solver(rev):
    """kernels/bitset_transport.py's bitset_transport at git revision rev, as a C callback (not cached)."""
    old = module_at(rev, "kernels/bitset_transport.py", "bitset_transport_old")
    return cfunc(transport_solvers.BITSET_SIGNATURE)(old.bitset_transport)


def main(argv=None):
    from ollivier import HUB_LABELS, hub_layer, hub_size

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default="gauss50,relu512")
    parser.add_argument("--every", type=int, default=1, help="keep every n-th multi-word problem (default all)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ab", metavar="REV", help="also time that revision's solver on the same problems")
    parser.add_argument("--no-stats", action="store_true", help="skip the instrumented phase statistics")
    args = parser.parse_args(argv)
    new = transport_solvers.bitset_solver()
    old = old_solver(args.ab) if args.ab else None
    for kind in args.kinds.split(","):
        n = hub_size(kind, False)
        graph = rf.knn_graph(hub_layer(kind, n), 30)
        corpus, n_calls = capture(graph, args.every)
        print(f"\n{HUB_LABELS[kind]}, N={n}, k=30: {n_calls} multi-word problems, {corpus.n} kept "
              f"(every {args.every}-th); sinks median {np.median(corpus.n_snk):.0f}, max {corpus.n_snk.max()}; "
              f"words median {np.median(corpus.W):.0f}, max {corpus.W.max()}")
        solvers = [("new", new)] + ([("old", old)] if old is not None else [])
        totals = {}
        times = {name: [] for name, _ in solvers}
        for name, solve in solvers:
            solve_all(corpus, solve, np.arange(min(corpus.n, 50)))  # warm-up
        for _ in range(args.repeat):
            for name, solve in solvers:
                t, totals[name] = solve_all(corpus, solve)
                times[name].append(t)
        assert np.isfinite(totals["new"]).all(), "the solver reported an error"
        line = f"  solver on the kept problems, one thread: new {np.median(times['new']):.3f} s"
        if old is not None:
            same = np.array_equal(totals["old"], totals["new"])
            diff = float(np.max(np.abs(totals["old"] - totals["new"])))
            line += (f", old ({args.ab}) {np.median(times['old']):.3f} s, new / old "
                     f"{np.median(times['new']) / np.median(times['old']):.3f}; totals "
                     + ("bit-identical" if same else f"differ by up to {diff:.1e}"))
        print(line, flush=True)
        if not args.no_stats:
            import _bitset_instrumented as ins

            ins.report(corpus, _scratch(corpus))


if __name__ == "__main__":
    main()
