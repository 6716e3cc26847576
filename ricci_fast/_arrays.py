"""Layers that live out of core: numpy memmaps, zarr arrays, dask arrays, or any array-like with
`shape`, `dtype` and row slicing, read in row blocks (docs/distributed.md).

Below graph.py: plain numpy in and out, no Dask import at module level.  `RowSource` wraps such a layer;
`scan` is one pass over its row blocks that applies the checks of `as_activation_array` (dtype rules,
finite values) without holding more than one block, and records what the exact k-NN search needs from
the whole array (the largest magnitude for the power-of-two scale, the column means for centring).
A RowSource pickles as a *description* (a memmap's file, offset and shape; a zarr array's store), so a
Dask worker that receives it opens the store and reads its own rows: the data never travel through
the scheduler.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass

import numpy as np

from ricci_fast._validation import _FLOAT32_EXACT, _FLOAT64_EXACT, _layer_label, _refuse_dtype

#: Bytes of raw rows one read brings in (the scan and the block search read this much at a time).
READ_BLOCK_BYTES = 32 * 2**20


def _module(obj) -> str:
    return type(obj).__module__ or ""


def is_dask_array(obj) -> bool:
    return _module(obj).startswith("dask") and hasattr(obj, "chunks") and hasattr(obj, "dtype")


def is_zarr_array(obj) -> bool:
    return _module(obj).startswith("zarr") and hasattr(obj, "shape") and hasattr(obj, "dtype")


def is_out_of_core(obj) -> bool:
    """A layer read in row blocks rather than converted whole: a RowSource, np.memmap, zarr or dask
    array, or another array-like (h5py dataset, ...) with shape, dtype and row slicing.  numpy arrays
    in memory, torch tensors and nested lists are not."""
    if isinstance(obj, RowSource) or isinstance(obj, np.memmap):
        return True
    if isinstance(obj, (np.ndarray, list, tuple)) or _module(obj).startswith(("torch", "scipy", "pandas")):
        return False
    return is_dask_array(obj) or is_zarr_array(obj) or (
        hasattr(obj, "shape") and hasattr(obj, "dtype") and hasattr(obj, "__getitem__") and len(getattr(obj, "shape", ())) >= 1
    )


def _memmap_spec(array: np.memmap):
    """(filename, byte offset of the first element in the file, shape, dtype) of a C-contiguous memmap or
    row-slice view of one, or None when it cannot be described by its file (in-memory copy, strides)."""
    filename = getattr(array, "filename", None)
    if not filename or not array.flags.c_contiguous:
        return None
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    buffer = root.base
    if not isinstance(buffer, mmap.mmap):
        return None
    # np.memmap maps from the allocation-granularity boundary below its offset (numpy/core/memmap.py)
    start = array.offset - array.offset % mmap.ALLOCATIONGRANULARITY
    base_address = np.frombuffer(buffer, np.uint8).ctypes.data
    position = start + (array.ctypes.data - base_address)
    return os.fspath(filename), int(position), tuple(int(s) for s in array.shape), array.dtype.str


class RowSource:
    """Row blocks of a layer.  `read(start, stop)` returns rows start..stop-1 flattened to (rows, D) as
    a numpy array of the source's dtype (unconverted; see `convert_block`).

    Pickling keeps a memmap as its file description (re-opened read-only where it is unpickled) and
    other sources as themselves (a zarr array pickles as its store; a dask array as its graph)."""

    def __init__(self, data, *, name: str = "X"):
        if isinstance(data, RowSource):
            self.__dict__.update(data.__dict__)
            return
        self.name = name
        self._memmap = None
        if isinstance(data, np.memmap):
            self._memmap = _memmap_spec(data)
        shape = tuple(int(s) for s in data.shape)
        if len(shape) == 0:
            raise ValueError(f"{name}: expected an array of shape (N, ...) with one row per point, got a scalar.")
        self.data = data
        self.shape_raw = shape
        self.dtype = np.dtype(data.dtype)
        _refuse_dtype(self.dtype, name)
        if len(shape) == 1:
            raise ValueError(
                f"{name}: expected shape (N, D) with one row per point, got a 1-D array of length {shape[0]}; "
                f"use acts.reshape(-1, 1) for one feature per point."
            )
        if shape[0] == 0:
            raise ValueError(f"{name}: no points (shape {shape}).")
        n_features = int(np.prod(shape[1:]))
        if n_features == 0:
            raise ValueError(f"{name}: points have no features (shape {shape}).")
        self.shape = (shape[0], n_features)

    @property
    def kind(self) -> str:
        if self._memmap is not None:
            return "memmap"
        if is_dask_array(self.data):
            return "dask"
        if is_zarr_array(self.data):
            return "zarr"
        return "numpy" if isinstance(self.data, np.ndarray) else "array"

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"RowSource({self.kind}, shape={self.shape}, dtype={self.dtype})"

    def read(self, start: int, stop: int) -> np.ndarray:
        start, stop = int(start), int(min(stop, self.shape[0]))
        if self._memmap is not None and self.data is None:
            self._reopen()
        block = self.data[start:stop]
        if is_dask_array(block):
            block = block.compute(scheduler="synchronous")
        block = np.asarray(block)
        if block.shape[0] != stop - start:
            raise ValueError(f"{self.name}: reading rows {start}..{stop - 1} gave {block.shape[0]} rows; the array "
                             f"must support row slicing (array[a:b]).")
        return block.reshape(stop - start, self.shape[1])

    def _reopen(self):
        filename, position, shape, dtype = self._memmap
        self.data = np.memmap(filename, dtype=np.dtype(dtype), mode="r", offset=position, shape=shape, order="C")

    def block_rows(self, itemsize: int | None = None, budget: int = READ_BLOCK_BYTES) -> int:
        """Rows per read so that one block of raw rows (or of `itemsize`-byte values) is about `budget`."""
        per_row = self.shape[1] * (itemsize or max(self.dtype.itemsize, 1))
        return int(max(1, min(self.shape[0], budget // max(per_row, 1))))

    def __getstate__(self):
        state = dict(self.__dict__)
        if self._memmap is not None:
            state["data"] = None  # the file description travels, not the mapped pages
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)


def as_row_source(data, *, layer: int | str | None = None, name: str = "acts") -> RowSource:
    label = _layer_label(layer, name) if not isinstance(layer, str) else f"layer {layer}"
    return data if isinstance(data, RowSource) else RowSource(data, name=label)


@dataclass(frozen=True)
class LayerStats:
    """What one pass over a layer's blocks found (see `scan`)."""

    n_points: int
    n_features: int
    #: the float dtype the rows are converted to (the rules of as_activation_array)
    dtype: np.dtype
    #: largest |value| (in the converted dtype, as float64)
    max_abs: float
    #: column means of the converted rows, float64
    mean: np.ndarray
    #: all-zero rows (undefined for metric="cosine"): how many and the first one
    n_zero_rows: int
    first_zero_row: int


def working_dtype(dtype: np.dtype, largest_integer: int, label: str) -> np.dtype:
    """The float dtype as_activation_array converts `dtype` to (integers by their largest magnitude)."""
    if dtype.kind in "iu":
        if dtype.itemsize <= 2 or largest_integer <= _FLOAT32_EXACT:
            return np.dtype(np.float32)
        if largest_integer <= _FLOAT64_EXACT:
            return np.dtype(np.float64)
        raise ValueError(
            f"{label}: integer values up to {largest_integer} exceed 2^53, beyond which float64 merges distinct "
            f"integers; subtract an offset (distances do not change) or scale the data first."
        )
    if dtype in (np.float32, np.float64):
        return dtype
    if dtype.kind == "f" and dtype.itemsize > 8:
        return np.dtype(np.float64)
    return np.dtype(np.float32)  # bool, float16


def convert_block(block: np.ndarray, dtype: np.dtype, label: str, row_offset: int = 0) -> np.ndarray:
    """A raw block as C-contiguous `dtype` (from `scan`), finite-checked like as_activation_array."""
    if block.dtype.kind == "f" and block.dtype.itemsize > 8:
        with np.errstate(over="ignore", under="ignore"):
            cast = block.astype(np.float64)
        overflow = np.isfinite(block) & ~np.isfinite(cast)
        if overflow.any():
            raise ValueError(f"{label}: long double values beyond the float64 range (first in row "
                             f"{row_offset + int(np.argmax(overflow.any(axis=1)))}); rescale the data (the k-NN "
                             f"graph does not depend on its scale).")
        block = cast
    out = np.ascontiguousarray(block, dtype=dtype)
    finite = np.isfinite(out)
    if not finite.all():
        row = row_offset + int(np.argmax(~finite.all(axis=1)))
        raise ValueError(
            f"{label}: {out.size - int(np.count_nonzero(finite))} entries of rows {row_offset}..{row_offset + out.shape[0] - 1} "
            f"are NaN or infinite (first in row {row}); remove or impute them (e.g. np.nan_to_num) before "
            f"computing curvature."
        )
    return out


def largest_integer(source: RowSource, start: int, stop: int) -> int:
    """Largest |value| of rows start..stop-1 of an integer source wider than 16 bits (decides its float dtype)."""
    largest = 0
    step = source.block_rows(8)
    for a in range(start, stop, step):
        block = source.read(a, min(stop, a + step))
        largest = max(largest, abs(int(block.min())), abs(int(block.max())))
    return largest


def scan_range(source: RowSource, dtype, start: int, stop: int) -> tuple:
    """The checks and partial statistics of rows start..stop-1 converted to dtype: (column sums, largest
    magnitude, number of all-zero rows, first all-zero row or -1)."""
    total = np.zeros(source.shape[1], np.float64)
    max_abs = 0.0
    n_zero = 0
    first_zero = -1
    step = source.block_rows(8)
    for a in range(start, stop, step):
        block = convert_block(source.read(a, min(stop, a + step)), dtype, source.name, a)
        wide = block.astype(np.float64, copy=False)
        total += wide.sum(axis=0)
        max_abs = max(max_abs, float(wide.max()), -float(wide.min()))
        zero = ~block.any(axis=1)
        if zero.any():
            if first_zero < 0:
                first_zero = a + int(np.argmax(zero))
            n_zero += int(np.count_nonzero(zero))
    return total, max_abs, n_zero, first_zero


def combine(source: RowSource, dtype, parts) -> LayerStats:
    """LayerStats from the scan_range results of consecutive row ranges, in row order."""
    total = np.zeros(source.shape[1], np.float64)
    max_abs, n_zero, first_zero = 0.0, 0, -1
    for part_total, part_max, part_zero, part_first in parts:
        total += part_total
        max_abs = max(max_abs, part_max)
        n_zero += part_zero
        if first_zero < 0 and part_first >= 0:
            first_zero = part_first
    n, d = source.shape
    return LayerStats(n, d, np.dtype(dtype), max_abs, total / n, n_zero, first_zero)


def needs_integer_pass(source: RowSource) -> bool:
    return source.dtype.kind in "iu" and source.dtype.itemsize > 2


def scan(source: RowSource) -> LayerStats:
    """One pass over the row blocks: dtype rules, finiteness (the same errors as as_activation_array,
    naming the first bad row), largest magnitude and column means.  Memory: one block."""
    n = source.shape[0]
    largest = largest_integer(source, 0, n) if needs_integer_pass(source) else 0
    dtype = working_dtype(source.dtype, largest, source.name)
    return combine(source, dtype, [scan_range(source, dtype, 0, n)])


def materialise(source: RowSource, stats: LayerStats | None = None) -> np.ndarray:
    """The whole layer as one checked (N, D) array (for the methods that need all points in memory)."""
    stats = scan(source) if stats is None else stats
    out = np.empty(source.shape, stats.dtype)
    step = source.block_rows()
    for start in range(0, source.shape[0], step):
        out[start:start + step] = convert_block(source.read(start, start + step), stats.dtype, source.name, start)
    return out


def row_hashes_range(source: RowSource, dtype, start: int, stop: int) -> tuple[np.ndarray, int]:
    """(a 64-bit hash of each of rows start..stop-1, as uint64; the number of all-zero rows among them):
    equal rows hash equally (-0.0 as 0.0), so duplicates can be counted from N hashes instead of the rows.
    dtype: the float dtype the rows are compared in (None: the block's own)."""
    out = np.empty(stop - start, np.uint64)
    n_zero = 0
    step = source.block_rows(8)
    multipliers = None
    for a in range(start, stop, step):
        block = source.read(a, min(stop, a + step))
        block = np.ascontiguousarray(block if dtype is None else block.astype(dtype)) + 0  # -0.0 -> 0.0
        n_zero += int(np.count_nonzero(~block.any(axis=1)))
        raw = block.view(np.uint8).reshape(block.shape[0], -1)
        pad = (-raw.shape[1]) % 8
        if pad:
            raw = np.concatenate([raw, np.zeros((raw.shape[0], pad), np.uint8)], axis=1)
        words = raw.view(np.uint64)
        if multipliers is None:
            multipliers = np.random.default_rng(0x5EED).integers(1, 2**63, size=words.shape[1], dtype=np.uint64) * 2 + 1
        with np.errstate(over="ignore"):
            h = (words * multipliers).sum(axis=1, dtype=np.uint64)
            h ^= h >> np.uint64(31)
            h *= np.uint64(0x9E3779B97F4A7C15)
        out[a - start: a - start + block.shape[0]] = h
    return out, n_zero
