"""Input checks with errors that name the argument and the fix (in the manner of scikit-learn)."""

from __future__ import annotations

import numbers

import numpy as np


def _layer_label(layer: int | None, name: str = "acts") -> str:
    return name if layer is None else f"layer {layer}"


#: Integers up to this magnitude are exact in float32 (24-bit significand) and in float64 up to 2^53.
_FLOAT32_EXACT = 2**24
_FLOAT64_EXACT = 2**53

_REFUSED_KINDS = {
    "M": "datetime64", "m": "timedelta64", "U": "str", "S": "bytes", "O": "object", "V": "void (structured)",
    "c": "complex",
}


def _refuse_dtype(dtype: np.dtype, label: str) -> None:
    kind = dtype.kind
    if kind in _REFUSED_KINDS:
        what = _REFUSED_KINDS[kind]
        hint = " (ragged input?)" if kind == "O" else ""
        raise TypeError(
            f"{label}: expected a real numeric array (float, integer or bool), got dtype {dtype} "
            f"({what}){hint}; convert it to floats first."
        )


def _integers_to_float(array: np.ndarray, label: str) -> np.ndarray:
    """Integer data as floats without merging distinct values: float32 where every value is exact in it
    (|v| <= 2^24, so 8- and 16-bit data always), float64 up to 2^53, refused beyond."""
    if array.dtype.itemsize <= 2:
        return array.astype(np.float32)
    if array.size == 0:
        return array.astype(np.float32)
    low, high = int(array.min()), int(array.max())
    largest = max(abs(low), abs(high))
    if largest <= _FLOAT32_EXACT:
        return array.astype(np.float32)
    if largest <= _FLOAT64_EXACT:
        return array.astype(np.float64)
    raise ValueError(
        f"{label}: integer values up to {largest} exceed 2^53, beyond which float64 merges distinct "
        f"integers; subtract an offset (distances do not change) or scale the data first."
    )


def _long_double_to_float64(array: np.ndarray, label: str) -> np.ndarray:
    """long double -> float64, refused when the cast would overflow or merge distinct rows (it is then
    not the same point set)."""
    finite = np.isfinite(array)
    with np.errstate(over="ignore", under="ignore"):
        cast = array.astype(np.float64)
    overflow = finite & ~np.isfinite(cast)
    if overflow.any():
        raise ValueError(
            f"{label}: {int(overflow.sum())} long double values are beyond the float64 range; "
            f"rescale the data (the k-NN graph does not depend on its scale)."
        )
    if array.shape[0] > 1 and finite.all() and np.any(cast.astype(array.dtype) != array):
        rows_before = np.unique(array.reshape(array.shape[0], -1), axis=0).shape[0]
        rows_after = np.unique(cast.reshape(cast.shape[0], -1), axis=0).shape[0]
        if rows_after < rows_before:
            raise ValueError(
                f"{label}: converting long double to float64 would merge {rows_before - rows_after} distinct "
                f"points into others; centre or rescale the data in long double first."
            )
    return cast


def as_activation_array(acts, *, layer: int | None = None, name: str = "acts") -> np.ndarray:
    """Activations as a C-contiguous float32/float64 (N, D) array (docs/definitions.md, Inputs).

    Accepts numpy arrays and torch tensors (any device, with or without grad: the tensor is detached and
    copied to host memory once).  Axes past the first are flattened.  float32 and float64 stay as they
    are; bool, float16 and integers that float32 holds exactly (|v| <= 2^24) become float32; larger
    integers float64 (refused beyond 2^53, where float64 would merge distinct values); long double
    becomes float64 (refused if that would overflow or merge distinct points).  datetime64,
    timedelta64, str, bytes, object, void and complex data are refused with a TypeError.  NaN or inf is
    an error that says which layer and how many entries.
    """
    label = _layer_label(layer, name)
    module = type(acts).__module__
    if module.startswith("torch"):
        import torch

        tensor = acts.detach()  # no copy, and nothing is recorded in the autograd graph
        if tensor.is_complex():
            raise TypeError(f"{label}: complex activations are not supported; pass real values.")
        if tensor.dtype in (torch.float32, torch.float64):
            dtype = tensor.dtype
        elif tensor.dtype in _torch_wide_integers(torch):
            dtype = None  # through numpy below, with the integer rules
        elif tensor.dtype.is_floating_point or tensor.dtype in _torch_narrow_integers(torch):
            dtype = torch.float32  # float16/bfloat16/8- and 16-bit integers: exact in float32
        else:
            raise TypeError(f"{label}: tensors of dtype {tensor.dtype} are not supported; pass real values.")
        # one copy at most: device, dtype and layout change in a single step (none for a float CPU tensor)
        array = tensor.to(device="cpu", dtype=dtype, memory_format=torch.contiguous_format).numpy()
    else:
        try:
            array = np.asarray(acts)
        except Exception as exc:  # ragged nested lists and other exotic array-likes
            raise TypeError(f"{label}: could not convert {type(acts).__name__} to an array: {exc}") from None
    _refuse_dtype(array.dtype, label)
    if array.ndim == 0:
        raise ValueError(f"{label}: expected an array of shape (N, ...) with one row per point, got a scalar.")
    if array.ndim == 1:
        raise ValueError(
            f"{label}: expected shape (N, D) with one row per point, got a 1-D array of length "
            f"{array.shape[0]}; use acts.reshape(-1, 1) for one feature per point."
        )
    if array.shape[0] == 0:
        raise ValueError(f"{label}: no points (shape {array.shape}).")
    if array.ndim > 2:
        array = array.reshape(array.shape[0], -1)
    if array.shape[1] == 0:
        raise ValueError(f"{label}: points have no features (shape {array.shape}).")
    if array.dtype.kind in "iu":
        array = _integers_to_float(array, label)
    elif array.dtype.kind == "f" and array.dtype.itemsize > 8:
        array = _long_double_to_float64(array, label)
    elif array.dtype not in (np.float32, np.float64):  # bool, float16
        array = array.astype(np.float32)
    array = np.ascontiguousarray(array)
    finite = np.isfinite(array)
    if not finite.all():
        bad = array.size - int(np.count_nonzero(finite))
        raise ValueError(
            f"{label}: {bad} of {array.size} entries are NaN or infinite; remove or impute them "
            f"(e.g. np.nan_to_num) before computing curvature."
        )
    return array


def is_device_tensor(acts) -> bool:
    """A torch tensor that lives off the host (a GPU)."""
    return type(acts).__module__.startswith("torch") and getattr(acts, "device", None) is not None \
        and acts.device.type != "cpu"


def _torch_narrow_integers(torch) -> tuple:
    return tuple(getattr(torch, name) for name in ("bool", "int8", "uint8", "int16", "uint16") if hasattr(torch, name))


def _torch_wide_integers(torch) -> tuple:
    return tuple(getattr(torch, name) for name in ("int32", "int64", "uint32", "uint64") if hasattr(torch, name))


def as_activation_tensor(acts, *, layer: int | None = None, name: str = "acts"):
    """A torch tensor checked like as_activation_array but left on its device: detached, flattened to
    (N, D), float32 unless float64 (or integers float32 cannot hold exactly), finite."""
    import torch

    label = _layer_label(layer, name)
    if not isinstance(acts, torch.Tensor):
        _refuse_dtype(np.asarray(acts).dtype, label)
    tensor = torch.as_tensor(acts).detach()
    if tensor.is_complex():
        raise TypeError(f"{label}: complex activations are not supported; pass real values.")
    if tensor.ndim < 2:
        raise ValueError(f"{label}: expected shape (N, D) with one row per point, got {tuple(tensor.shape)}.")
    if tensor.shape[0] == 0:
        raise ValueError(f"{label}: no points (shape {tuple(tensor.shape)}).")
    tensor = tensor.reshape(tensor.shape[0], -1)
    if tensor.shape[1] == 0:
        raise ValueError(f"{label}: points have no features (shape {tuple(tensor.shape)}).")
    if tensor.dtype in _torch_wide_integers(torch):
        largest = int(tensor.abs().max()) if tensor.numel() else 0
        if largest > _FLOAT64_EXACT:
            raise ValueError(
                f"{label}: integer values up to {largest} exceed 2^53, beyond which float64 merges distinct "
                f"integers; subtract an offset (distances do not change) or scale the data first."
            )
        tensor = tensor.to(torch.float32 if largest <= _FLOAT32_EXACT else torch.float64)
    elif tensor.dtype != torch.float64:
        tensor = tensor.to(torch.float32)
    finite = torch.isfinite(tensor)
    if not bool(finite.all()):
        bad = int(tensor.numel() - finite.sum())
        raise ValueError(
            f"{label}: {bad} of {tensor.numel()} entries are NaN or infinite; remove or impute them "
            f"before computing curvature."
        )
    return tensor


def _is_number(value) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, (bool, np.bool_))


def _range_text(minimum, maximum, inclusive=(True, True)) -> str:
    low = "" if minimum is None else f"{minimum} {'<=' if inclusive[0] else '<'} "
    high = "" if maximum is None else f" {'<=' if inclusive[1] else '<'} {maximum}"
    return f"{low}value{high}"


def check_integer(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """value as a Python int: an integer (Python or numpy, not bool) in [minimum, maximum].

    A TypeError names `name` for anything else (floats, even 2.0, bools, strings, None); a ValueError
    names it and the allowed range when it lies outside."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer ({_range_text(minimum, maximum)}), got {value!r} "
            f"of type {type(value).__name__}."
        )
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name}={value} is out of range: it must satisfy {_range_text(minimum, maximum).replace('value', name)}.")
    return value


def check_real(value, name: str, *, minimum: float | None = None, maximum: float | None = None,
               inclusive: tuple[bool, bool] | bool = (True, True), allow_inf: bool = False) -> float:
    """value as a Python float: a real number (Python, numpy or Fraction; not bool, not complex) that is
    not NaN (nor infinite unless allow_inf) and lies in the range; inclusive says whether each bound is
    allowed (one bool for both).  TypeError/ValueError name `name` and the range."""
    if isinstance(inclusive, bool):
        inclusive = (inclusive, inclusive)
    text = _range_text(minimum, maximum, inclusive).replace("value", name)
    if not _is_number(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number ({text}), got {value!r} of type {type(value).__name__}.")
    result = float(value)
    if np.isnan(result) or (np.isinf(result) and not allow_inf):
        raise ValueError(f"{name} must be a finite number ({text}), got {value!r}.")
    low_ok = minimum is None or (result >= minimum if inclusive[0] else result > minimum)
    high_ok = maximum is None or (result <= maximum if inclusive[1] else result < maximum)
    if not (low_ok and high_ok):
        raise ValueError(f"{name}={value!r} is out of range: it must satisfy {text}.")
    return result


def check_k(k, n_points: int, *, name: str = "k", layer: int | None = None) -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{name} must be an integer (1 <= {name} <= N - 1), got {k!r}.")
    k = int(k)
    if n_points < 2:
        raise ValueError(f"{_layer_label(layer)}: a k-NN graph needs at least 2 points, got {n_points}.")
    if not 1 <= k <= n_points - 1:
        raise ValueError(
            f"{name}={k} is out of range for {n_points} points ({_layer_label(layer)}): "
            f"it must satisfy 1 <= {name} <= N - 1 = {n_points - 1}; lower {name} or pass more points."
        )
    return k


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}={value!r} is not supported; choose one of {options}.")
    return value


def check_same_points(n_points: list[int]) -> None:
    if len(set(n_points)) > 1:
        first = n_points[0]
        bad = [(i, n) for i, n in enumerate(n_points) if n != first]
        detail = ", ".join(f"layer {i} has {n}" for i, n in bad[:5])
        raise ValueError(
            f"layers must hold the same probe points in the same order: layer 0 has {first} points but "
            f"{detail}."
        )


def check_graph(graph, name: str = "graph"):
    from ricci_fast.graph import Graph

    if not isinstance(graph, Graph):
        raise TypeError(
            f"{name}: expected a ricci_fast.Graph (from knn_graph, Graph.from_scipy or Graph.from_edges), "
            f"got {type(graph).__name__}."
        )
    # O(1) unless the arrays were swapped or made writable behind the Graph's back (then checked again)
    return graph._ensure_valid()


def check_edge_values(graph, values, name: str = "edge_values") -> np.ndarray:
    """values as float64 aligned with graph.indices (one per CSR entry), else a ValueError/TypeError
    naming `name`: the kernels read exactly len(graph.indices) of them."""
    check_graph(graph)
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected real numbers aligned with graph.indices, got dtype {array.dtype}.")
    if array.shape != graph.indices.shape:
        raise ValueError(
            f"{name}: expected one value per CSR entry of the graph, shape {graph.indices.shape} (aligned with "
            f"graph.indices, as edge_curvature returns), got shape {array.shape}."
        )
    return np.ascontiguousarray(array, dtype=np.float64)
