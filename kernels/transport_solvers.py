"""The two exact transport solvers of bitset_transport.py, each compiled once, as a C callback.

A Numba kernel that calls an @njit function links the callee's LLVM IR into its own module and optimises
and generates code for all of it again.  The solvers are most of the exact Ollivier-Ricci code, so each
range kernel paid for compiling them a second time (issue 15: owner_range took 16 CPU-s cold, 8 of them
the multi-word solver's own compile).  Compiled as a `cfunc` and passed to the range kernels as a
first-class function, a solver is compiled once, cached on disk like every kernel, and called through its
address (one indirect call per transport problem); the range kernels compile without it.

Each solver is built on first use (so a Forman-only session compiles neither) and at most once per process
(a lock: the exact path runs from several threads).
"""

import threading
import time

from numba import cfunc, types

from ricci_fast.kernels import bitset_transport as _bt

_f64 = types.float64
_i64 = types.int64
_u64 = types.uint64
_RESULT = types.Tuple((_f64, _i64))  # (transport cost, status: bitset_transport.STATUS_*)


def _vector(dtype):
    return types.Array(dtype, 1, "C")


#: word_transport's arguments, in order (see its docstring); the range kernel passes exactly these types
WORD_SIGNATURE = _RESULT(_u64, _vector(_f64), _u64, _vector(_f64), _vector(_u64), _vector(_u64),
                         types.Array(_f64, 2, "C"), _vector(_i64), _vector(_i64), _vector(_u64), _vector(_u64),
                         _vector(_u64), _vector(_f64), _vector(_f64), _vector(_i64), _vector(_i64), _vector(_u64),
                         _vector(_u64), _vector(_i64), _vector(_u64), _vector(_u64))

#: bitset_transport's arguments, in order
BITSET_SIGNATURE = _RESULT(_i64, _vector(_u64), _vector(_f64), _i64, _vector(_f64), _vector(_u64), _vector(_u64),
                           _vector(_u64), _vector(_i64), _vector(_f64), _vector(_i64), _vector(_f64), _vector(_i64),
                           _vector(_f64), _vector(_i64))

_lock = threading.Lock()
_built = {}
#: seconds each solver took to compile (or load from the cache) in this process, of the building thread
build_seconds = {}


def _solver(name, py_func, signature):
    solver = _built.get(name)
    if solver is None:
        with _lock:
            solver = _built.get(name)
            if solver is None:
                start = time.thread_time()
                solver = _built[name] = cfunc(signature, cache=True, nogil=True)(py_func)
                build_seconds[name] = time.thread_time() - start
    return solver


def word_solver():
    """word_transport (at most 64 sources and 64 sinks, one machine word each) as a compiled C callback."""
    return _solver("word", _bt.word_transport, WORD_SIGNATURE)


def bitset_solver():
    """bitset_transport (multi-word source sets) as a compiled C callback."""
    return _solver("bitset", _bt.bitset_transport, BITSET_SIGNATURE)
