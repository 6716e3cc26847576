"""Small shared helpers: 64-bit set operations and binary search in sorted CSR rows."""

import numpy as np
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.extending import intrinsic

ONE = np.uint64(1)
_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@njit(cache=True, nogil=True)
def popcount(x):
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return np.int64((x * _H01) >> np.uint64(56))


@njit(cache=True, nogil=True)
def lowest_bit_index(x):
    """Index of the lowest set bit of a nonzero word."""
    return popcount((x & (~x + ONE)) - ONE)


@njit(cache=True, nogil=True)
def find_sorted(indices, start, stop, value):
    """Position of value in the sorted run indices[start:stop] (or where it would go)."""
    lo = start
    hi = stop
    while lo < hi:
        mid = (lo + hi) // 2
        if indices[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo



def as_kernel_array(a, dtype):
    """a as a C-contiguous, writeable array of dtype: the one array type each kernel is compiled for.

    A read-only array (np.load(mmap_mode="r"), an array Dask deserialised) is a different Numba type and
    would compile the kernel a second time; copying it is O(size) and much cheaper."""
    a = np.ascontiguousarray(a, dtype=dtype)
    return a if a.flags.writeable else a.copy()


@intrinsic
def lowest_bit(typingctx, x):
    """Index of the lowest set bit of a nonzero uint64 word, as int64: LLVM's count-trailing-zeros, one
    instruction and nothing compiled separately (lowest_bit_index is a function of its own)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        return builder.cttz(args[0], llvm_ir.Constant(llvm_ir.IntType(1), 0))

    return types.int64(types.uint64), codegen


@intrinsic
def bit_count(typingctx, x):
    """Set bits of a uint64 word, as int64 (LLVM's ctpop; see lowest_bit)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])

    return types.int64(types.uint64), codegen


@intrinsic
def bit_at(typingctx, p):
    """The uint64 word with only bit p & 63 set, for an int64 position p: one shift (see lowest_bit).
    As an intrinsic it is typed once, not re-typed at each of the many call sites an inlined helper is."""
    if p != types.int64:
        return None

    def codegen(context, builder, sig, args):
        i64 = llvm_ir.IntType(64)
        return builder.shl(llvm_ir.Constant(i64, 1), builder.and_(args[0], llvm_ir.Constant(i64, 63)))

    return types.uint64(types.int64), codegen
