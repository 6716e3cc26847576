"""An instrumented copy of kernels/bitset_transport.py's bitset_transport, for bench/bitset_phases.py only.

The kernel's source is read with inspect and counters are inserted before or after marked statements
(ANCHORS: the statement's text, which occurrence, what to insert), so the copy follows the kernel as it
changes; an anchor that no longer matches fails loudly.  Compiled with @njit here (one extra argument,
st: the counters), never in the package.  Phase times are CPU cycles (LLVM's readcyclecounter)."""

from __future__ import annotations

import inspect
import textwrap

import numpy as np
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.extending import intrinsic

from ricci_fast.kernels import bitset_transport as bt

from bitset_phases import problem_at  # the corpus layout, defined where the corpus is captured


@intrinsic
def _cycles(typingctx):
    def codegen(context, builder, sig, args):
        fn = builder.module.declare_intrinsic("llvm.readcyclecounter", fnty=llvm_ir.FunctionType(llvm_ir.IntType(64), []))
        return builder.call(fn, [])

    return types.int64(), codegen


@njit(nogil=True)
def _lap(st, phase, c):
    now = _cycles()
    st[PHASE0 + phase] += now - c
    return now


PHASES = ("set-up", "Dijkstra", "tight arcs + sort", "greedy pushes", "Dinic BFS", "Dinic paths + augment", "final cost")
# a phase in the second pass counts in slot phase + len(PHASES)
# counters
PASSES, DIJKSTRA, CLOSURE, GREEDY_MASS, GREEDY_PUSHES, ROUNDS, BFS_LEVELS, PATHS, PATH_MASS, PATH_LEN, REST3, \
    SUPPLY, GREEDY_MASS2, GREEDY_PUSHES2, ROUNDS2, PATHS2, PATH_MASS2, NO_LIVE_SINK, COMPLETE2, PHASE0 = range(20)
N_STATS = PHASE0 + 2 * len(PHASES)

# (statement text, occurrence, "before" / "after", code); code may use st and the solver's variables
ANCHORS = [
    ("n_arena = 0", 0, "after", "_c = _cycles()\n_ph = 0"),
    ("passes += 1", 0, "after", "st[PASSES] += 1"),
    ("if not first:", 0, "after_in", "_c = _lap(st, _ph, _c)\n_ph = 1\nst[DIJKSTRA] += 1"),
    ("level0 = 1", 0, "after", "st[CLOSURE] += 1"),
    # the second pass's check (is every source left within 2 hops of every sink left?) is not timed
    ("if first:  # pi_u = 0, pi_v = 1: the tight arcs are the cost-1 arcs", 0, "before",
     "_c = _lap(st, _ph, _c)\n_ph = 2 + 7 * (passes - 1)\n"
     "if not first:\n    _ok = True\n    for _q in range(n):\n        if rd[_q] > 0:\n"
     "            for _w in range(W):\n                if rs_mask[_w] & ~c2[_q * W + _w]:\n"
     "                    _ok = False\n    if _ok:\n        st[COMPLETE2] += 1\n_c = _cycles()"),
    ("for qi in range(n):", 0, "before", "_c = _lap(st, _ph, _c)\n_ph = 3 + 7 * (passes - 1)"),
    ("fw |= bp", 0, "after", "st[GREEDY_MASS + (GREEDY_MASS2 - GREEDY_MASS) * (passes - 1)] += amount\n"
     "st[GREEDY_PUSHES + (GREEDY_PUSHES2 - GREEDY_PUSHES) * (passes - 1)] += 1"),
    # (the count of sinks with demand left is not timed either)
    ("any_front = False", 0, "before",
     "_c = _lap(st, _ph, _c)\n_ph = 4 + 7 * (passes - 1)\nst[ROUNDS + (ROUNDS2 - ROUNDS) * (passes - 1)] += 1\n"
     "_live = 0\nfor _q in range(n):\n    if rd[_q] > 0:\n        _live += 1\nif _live == 0:\n"
     "    st[NO_LIVE_SINK] += 1\n_c = _cycles()"),
    ("depth += 2", 0, "after", "st[BFS_LEVELS] += 1"),
    ("last = depth + 1", 0, "before", "_c = _lap(st, _ph, _c)\n_ph = 5 + 7 * (passes - 1)"),
    ("pushed_any = True", 0, "after",
     "st[PATHS + (PATHS2 - PATHS) * (passes - 1)] += 1\n"
     "st[PATH_MASS + (PATH_MASS2 - PATH_MASS) * (passes - 1)] += amount\nst[PATH_LEN] += (top + 1) // 2"),
    ("# the rest moves along length-3 paths at cost 3 (see mincost_flow.min_cost_transport)", 0, "before",
     "_c = _lap(st, _ph, _c)\n_ph = 6"),
    ("return 3.0 * remaining + cost, STATUS_OK", 0, "before", "st[REST3] += remaining\n_c = _lap(st, _ph, _c)"),
]


def _instrumented_source():
    lines = textwrap.dedent(inspect.getsource(bt.bitset_transport)).split("\n")
    if not lines[0].startswith("def bitset_transport(") or not lines[1].strip().endswith("a_next):"):
        raise RuntimeError("bitset_transport's signature changed: update bench/_bitset_instrumented.py")
    lines[0] = "def bitset_transport_stats(" + lines[0][len("def bitset_transport("):]
    lines[1] = lines[1].replace("a_next):", "a_next, st):")
    inserts = []
    for text, occ, where, code in ANCHORS:
        hits = [i for i, line in enumerate(lines) if line.strip() == text]
        if len(hits) <= occ:
            raise RuntimeError(f"anchor {text!r} not found in bitset_transport: update bench/_bitset_instrumented.py")
        i = hits[occ]
        indent = len(lines[i]) - len(lines[i].lstrip())
        if where == "after_in":
            indent += 4
        pad = " " * indent
        block = [pad + c for c in code.split("\n")]
        inserts.append((i + (0 if where == "before" else 1), block))
    for i, block in sorted(inserts, key=lambda t: -t[0]):
        lines[i:i] = block
    return "\n".join(lines)


def build():
    namespace = dict(vars(bt))
    namespace.update(_cycles=_cycles, _lap=_lap, st=None, **{k: v for k, v in globals().items() if k.isupper()})
    namespace.pop("st")
    exec(compile(_instrumented_source(), "<bitset_transport_stats>", "exec"), namespace)
    return njit(nogil=True)(namespace["bitset_transport_stats"])


_solver = None


@njit(nogil=True)
def _run_stats(ints, floats, index, n_problems, solve, mk, bint, bflt, lint, lflt, a_src, a_amt, a_next, stats):
    for k in range(n_problems):
        W, n, src, c1, c2, sup, dem = problem_at(ints, floats, index, k)
        st = stats[k]
        for w in range(W):
            m = src[w]
            while m:
                p = w * 64 + bt.lowest_bit(m)
                m &= m - np.uint64(1)
                st[SUPPLY] += sup[p]
        total, status = solve(W, src, sup, n, dem, c1, c2, mk, bint, bflt, lint, lflt, a_src, a_amt, a_next, st)
        if status != 0:
            st[:] = np.nan


def report(corpus, scratch):
    global _solver
    if _solver is None:
        _solver = build()
    stats = np.zeros((corpus.n, N_STATS))
    _run_stats(corpus.ints, corpus.floats, corpus.index, corpus.n, _solver, *scratch, stats)
    if np.isnan(stats).any():
        print("  (the instrumented solver stopped on some problems: arena too small)")
        stats = stats[~np.isnan(stats).any(axis=1)]
    cyc = stats[:, PHASE0:]
    total_cycles = cyc.sum()
    print("  phases, share of the instrumented solver's cycles (pass 1 + pass 2): "
          + ", ".join(f"{name} {100 * cyc[:, i].sum() / total_cycles:.1f}% + "
                      f"{100 * cyc[:, i + len(PHASES)].sum() / total_cycles:.1f}%" for i, name in enumerate(PHASES)))
    print("\n  | W | problems | sinks (mean) | cycles / problem | passes | Dijkstra | closure | Dinic rounds (pass 1) "
          "| BFS levels / round | paths / round | path length | greedy pushes (pass 1) "
          "| mass: greedy (pass 1) / paths (pass 1) / cost 3 "
          "| cycles: Dij / tight+sort / greedy / BFS / paths / final |")
    print("  |" + "---|" * 14)
    t = stats.sum(axis=0)
    print(f"  per problem: pass 1 greedy pushes {t[GREEDY_PUSHES] / len(stats):.1f} (mass {t[GREEDY_MASS] / t[SUPPLY]:.3f}), "
          f"rounds {t[ROUNDS] / len(stats):.2f}, paths {t[PATHS] / len(stats):.2f} (mass {t[PATH_MASS] / t[SUPPLY]:.4f}); "
          f"pass 2 greedy pushes {t[GREEDY_PUSHES2] / len(stats):.1f} (mass {t[GREEDY_MASS2] / t[SUPPLY]:.3f}), "
          f"rounds {t[ROUNDS2] / len(stats):.2f}, paths {t[PATHS2] / len(stats):.2f} (mass {t[PATH_MASS2] / t[SUPPLY]:.4f}); "
          f"rounds with no sink left to fill {t[NO_LIVE_SINK] / len(stats):.2f}; second pass complete at cost 2 "
          f"(every source left within 2 hops of every sink left) {t[COMPLETE2] / len(stats):.3f}")
    W = corpus.W[: stats.shape[0]]
    ns = corpus.n_snk[: stats.shape[0]]
    for lo, hi in ((2, 2), (3, 3), (4, 4), (5, 8), (9, 16), (17, 1 << 30)):
        sel = (W >= lo) & (W <= hi)
        if not sel.any():
            continue
        s = stats[sel]
        m = s.mean(axis=0)
        rounds = s[:, ROUNDS].sum()
        sup = s[:, SUPPLY].sum()
        c = s[:, PHASE0:PHASE0 + 7].sum(axis=0) + s[:, PHASE0 + 7:].sum(axis=0)
        label = str(lo) if lo == hi else (f"{lo}-{hi}" if hi < 1 << 30 else f">= {lo}")
        print(f"  | {label} | {sel.sum()} | {ns[sel].mean():.1f} | {c.sum() / sel.sum():.0f} | {m[PASSES]:.2f} "
              f"| {m[DIJKSTRA]:.2f} | {m[CLOSURE]:.2f} | {m[ROUNDS]:.2f} "
              f"| {s[:, BFS_LEVELS].sum() / max(rounds, 1):.2f} | {s[:, PATHS].sum() / max(rounds, 1):.2f} "
              f"| {s[:, PATH_LEN].sum() / max(s[:, PATHS].sum(), 1):.2f} | {m[GREEDY_PUSHES]:.1f} "
              f"| {s[:, GREEDY_MASS].sum() / sup:.3f} / {s[:, PATH_MASS].sum() / sup:.3f} / {s[:, REST3].sum() / sup:.3f} "
              "| " + " / ".join(f"{100 * c[i] / c.sum():.0f}%" for i in range(1, 7)) + " |")
