"""PyTorch glue: capture a model's layer activations and monitor its Ricci flow during training.

    from ricci_fast.torch import capture_activations, RicciFlowMonitor

Importing this module needs PyTorch (pip install 'ricci_fast[torch]').
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import pandas as pd

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - exercised only without torch
    raise ImportError("ricci_fast.torch needs PyTorch: pip install 'ricci_fast[torch]'.") from None

from ricci_fast.flow import RicciFlow, ricci_flow

# element-wise nonlinearities whose outputs are "the layers" by default (softmax-like ones and
# attention are not)
_ACTIVATIONS = tuple(
    cls
    for cls in vars(nn.modules.activation).values()
    if isinstance(cls, type) and issubclass(cls, nn.Module) and cls is not nn.Module
    and cls.__name__ not in {"Softmax", "Softmin", "LogSoftmax", "Softmax2d", "MultiheadAttention", "GLU", "Threshold"}
)


def activation_modules(model: nn.Module) -> list[str]:
    """Names of the modules whose outputs capture_activations takes by default: every element-wise
    activation module (nn.ReLU, nn.Tanh, nn.GELU, ...), in registration order."""
    return [name for name, module in model.named_modules() if isinstance(module, _ACTIVATIONS)]


def _first_tensor(output, name):
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    if isinstance(output, Mapping):  # e.g. a Hugging Face ModelOutput: its first tensor (logits, ...)
        for value in output.values():
            if isinstance(value, torch.Tensor):
                return value
    raise TypeError(f"module {name!r} returned {type(output).__name__}, not a tensor; pass other layers=.")


def _model_device(model):
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _model_dtype(model):
    """The dtype the model computes in: its first floating-point parameter's (or buffer's), else float32."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _probe_tensor(X, dtype):
    """Probe points as a tensor of the model's dtype (numpy arrays of any real dtype, lists, tensors)."""
    if isinstance(X, torch.Tensor):
        X_t = X.detach()
    else:
        array = np.asarray(X)
        if array.dtype == object or array.dtype.kind not in "biuf":
            raise TypeError(f"X: expected real numbers (float, int or bool), got an array of dtype {array.dtype}.")
        X_t = torch.as_tensor(array)
    if X_t.is_complex():
        raise TypeError("X: complex probe points are not supported; pass real values.")
    if X_t.ndim < 2:
        raise ValueError(f"X: expected shape (N, ...) with one row per probe point, got {tuple(X_t.shape)}.")
    if X_t.shape[0] == 0:
        raise ValueError("X: no probe points.")
    return X_t, X_t.to(dtype)


def _store_dtype(tensor):
    # float64 stays float64 (the graph is measured in float64 anyway); half precisions become float32
    return torch.float64 if tensor.dtype == torch.float64 else torch.float32


def capture_activations(model: nn.Module, X, layers=None, include_input: bool = True, batch_size: int = 1024,
                        device=None, include_output: bool = False, store=None) -> "OrderedDict[str, np.ndarray]":
    """Activations of `model` on the probe points X, one (N, features) array per layer.

    The model runs unchanged through forward hooks, in eval mode and under torch.no_grad(); every
    module's training flag and the grad mode are restored afterwards, also after an exception.
    X: any real numbers (numpy float64 from scikit-learn, int, bool, a list, a tensor), cast to the
    model's parameter dtype before the forward pass.
    layers: module names (see model.named_modules()); by default every element-wise activation module
    (for an nn.Sequential MLP: the output of each hidden layer after its nonlinearity).  A module
    called several times per forward pass (a shared nn.ReLU in a residual block) gives one layer per
    call, named "name", "name#2", ...  include_input puts the flattened input first, as "input" (the
    values as given, float64 kept); include_output appends the model's own output last, as "output"
    (Hehl et al. include the 1-D sigmoid output of their classifiers).
    X is processed in batches of batch_size on `device` (default: the model's).  Activations are
    float32 (float64 when the model computes in float64).

    Returns an ordered dict, layers in the order the forward pass reached them; ricci_flow takes it as it
    is and keeps the names.

    store: for probe sets whose activations do not fit in memory, a path where each batch is written as
    it is computed: a folder (created; files "000-input.npy", "001-<layer>.npy", ... in layer order, read
    back by np.load(mmap_mode="r") and by flow_many's folder loader) or a path ending in ".zarr" (a zarr
    group, one array per layer, `pip install ".[zarr]"`).  The dict then holds read-only memmaps or zarr
    arrays, which knn_graph and ricci_fast.distributed.ricci_flow read in row blocks.  An existing store
    path is refused (nothing is overwritten).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    for flag, value in (("include_input", include_input), ("include_output", include_output)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{flag} must be True or False, got {value!r}.")
    layers = _check_layers(model, layers)
    if include_output and "output" in layers:
        raise ValueError("include_output=True names the model's output 'output', which is also a module in layers=; "
                         "drop it from layers= or pass include_output=False.")
    device = torch.device(device) if device is not None else _model_device(model)
    X_given, X_t = _probe_tensor(X, _model_dtype(model))
    named = dict(model.named_modules())
    writer = None if store is None else _ActivationStore(store, X_t.shape[0])

    records: dict[str, list] = {}
    order: list[str] = []
    calls: dict[str, int] = {}
    outputs: list = []
    last_output: dict = {}
    same_as: list[str] = []

    def make_hook(name):
        def hook(module, inputs, output):
            calls[name] = calls.get(name, 0) + 1
            key = name if calls[name] == 1 else f"{name}#{calls[name]}"
            if key not in records:
                records[key] = []
                order.append(key)
            tensor = _first_tensor(output, name)
            last_output[key] = tensor
            tensor = tensor.detach()
            batch = tensor.reshape(tensor.shape[0], -1).to("cpu", _store_dtype(tensor))
            if writer is not None:
                writer.write(key, position[0], batch.numpy())
            else:
                records[key].append(batch)

        return hook

    modes = {module: module.training for module in model.modules()}
    position = [0]  # the first row of the batch being computed, for the store
    if writer is not None and include_input:
        # the input is the first layer of the store: written in batches too, as it is given
        wide = X_given.dtype == torch.float64 or (not X_given.is_floating_point() and X_given.dtype != torch.bool)
        for start in range(0, X_given.shape[0], int(batch_size)):
            part = X_given[start:start + int(batch_size)]
            writer.write("input", start, part.reshape(part.shape[0], -1).to("cpu", torch.float64 if wide else torch.float32).numpy())
    handles = [named[name].register_forward_hook(make_hook(name)) for name in layers]
    try:
        model.eval()
        with torch.no_grad():
            for start in range(0, X_t.shape[0], int(batch_size)):
                calls.clear()
                position[0] = start
                result = model(X_t[start:start + int(batch_size)].to(device))
                if include_output:
                    tensor = _first_tensor(result, "the model")
                    if start == 0:
                        same_as.extend(key for key, value in last_output.items() if value is tensor)
                    tensor = tensor.detach()
                    batch = tensor.reshape(tensor.shape[0], -1).to("cpu", _store_dtype(tensor))
                    if writer is not None:
                        writer.write("output", start, batch.numpy())
                    else:
                        outputs.append(batch)
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes.items():
            module.training = mode
    if writer is not None:
        if include_output and same_as:
            warnings.warn(
                f"include_output=True: the model's output is the output of captured layer {same_as[0]!r} (the model "
                f"ends with it), so 'output' repeats that layer and the transition between them is trivial; leave "
                f"it out of layers= or pass include_output=False.",
                stacklevel=2,
            )
        return writer.close()
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    if include_input:
        # the probe values as given: float64 kept, integers exact in float64, the rest float32
        wide = X_given.dtype == torch.float64 or (not X_given.is_floating_point() and X_given.dtype != torch.bool)
        out["input"] = X_given.reshape(X_given.shape[0], -1).to("cpu", torch.float64 if wide else torch.float32).numpy()
    for key in order:
        out[key] = torch.cat(records[key]).numpy()
    if include_output:
        out["output"] = torch.cat(outputs).numpy()
        if same_as:
            warnings.warn(
                f"include_output=True: the model's output is the output of captured layer {same_as[0]!r} (the model "
                f"ends with it), so 'output' repeats that layer and the transition between them is trivial; leave "
                f"it out of layers= or pass include_output=False.",
                stacklevel=2,
            )
    return out


class _ActivationStore:
    """capture_activations(store=...): one (N, width) array per layer, created when its first batch
    arrives (widths are known only then), filled batch by batch; layers keep the order they were created."""

    def __init__(self, path, n_rows: int):
        import os

        if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"store must be a folder path or a path ending in '.zarr', got {type(path).__name__}.")
        self.path = os.fspath(path)
        if os.path.exists(self.path):
            raise ValueError(f"store: {self.path} exists; give a new path (capture_activations never overwrites).")
        self.zarr = self.path.rstrip("/").endswith(".zarr")
        if self.zarr:
            try:
                import zarr
            except ImportError:
                raise ImportError('store=".zarr" needs zarr: pip install ".[zarr]" (from a checkout of ricci_fast).') from None
            self.group = zarr.open_group(self.path, mode="w")
        else:
            os.makedirs(self.path)
        self.n_rows = n_rows
        self.arrays: OrderedDict = OrderedDict()
        self.files: dict = {}

    def write(self, key: str, start: int, batch: np.ndarray) -> None:
        import os

        if key not in self.arrays:
            shape = (self.n_rows, batch.shape[1])
            if self.zarr:
                rows = max(1, min(self.n_rows, (16 * 2**20) // max(1, batch.shape[1] * batch.itemsize)))
                self.arrays[key] = self.group.create_array(key, shape=shape, chunks=(rows, batch.shape[1]),
                                                           dtype=batch.dtype)
            else:
                safe = "".join(c if c.isalnum() or c in "._#-" else "_" for c in key)
                name = os.path.join(self.path, f"{len(self.arrays):03d}-{safe}.npy")
                self.files[key] = name
                self.arrays[key] = np.lib.format.open_memmap(name, mode="w+", dtype=batch.dtype, shape=shape)
        self.arrays[key][start:start + batch.shape[0]] = batch

    def close(self) -> "OrderedDict[str, np.ndarray]":
        out = OrderedDict()
        for key, array in self.arrays.items():
            if self.zarr:
                out[key] = array
            else:
                array.flush()
                out[key] = np.load(self.files[key], mmap_mode="r")
        self.arrays.clear()
        return out


def _check_layers(model, layers):
    named = dict(model.named_modules())
    if layers is None:
        layers = activation_modules(model)
        if not layers:
            raise ValueError(
                "the model has no activation modules (nn.ReLU, nn.Tanh, ...) to capture by default; "
                f"name the layers: layers=[...] from {list(named)[1:][:20]}"
            )
        return layers
    layers = [layers] if isinstance(layers, str) else list(layers)
    bad = [name for name in layers if not isinstance(name, str)]
    if bad:
        raise TypeError(f"layers: module names are strings (see model.named_modules()), got {bad}.")
    missing = [name for name in layers if name not in named]
    if missing:
        raise ValueError(f"layers: no modules named {missing}; the model has {list(named)[1:][:30]}")
    return layers


#: History columns the monitor writes itself (user metrics must not reuse them).
MONITOR_COLUMNS = ("epoch", "flow_computed", "global_coefficient", "mean_local_coefficient", "negative_local_share",
                   "disconnected_layers", "n_joined_edges", "warnings")


class RicciFlowMonitor:
    """Ricci-flow coefficients of a model on a fixed probe set, recorded during training.

        monitor = RicciFlowMonitor(model, X_probe, k=30, every=5, labels=y_probe)
        for epoch in range(epochs):
            loss = train_one_epoch(...)
            monitor.step(epoch, loss=loss)
        monitor.history          # one row per recorded epoch, user metrics beside the coefficients
        monitor.plot("flow_over_training.png")

    Every argument is checked when the monitor is made (a typo in curvature= fails here, not after an
    epoch of training).  Each step captures the layers (capture_activations; the model's mode is left
    as it was), computes ricci_flow with the given options (no progress bar unless progress=True) and
    appends the global coefficient, each layer coefficient ("layer_coefficient[a->b]"), the mean and
    the negative share of the local coefficients, the edges joined, and with labels the curvature gap
    per layer ("curvature_gap[name]", Hehl et al.'s formula).  disconnected: as in ricci_flow; "join"
    (default) keeps coefficients defined when training separates the classes, "nan" records NaN, "raise"
    stops.  Why a value is NaN (or graphs were joined) is said once, in a warning, the first time it
    happens, and every step's warnings are kept in the "warnings" column.
    """

    def __init__(self, model: nn.Module, X_probe, *, k: int = 30, curvature: str = "forman", every: int = 1,
                 layers=None, include_input: bool = True, include_output: bool = False, labels=None,
                 batch_size: int = 1024, keep_flows: bool = False, disconnected: str = "join",
                 progress: bool = False, **flow_options):
        from ricci_fast._validation import check_k
        from ricci_fast.flow import check_flow_options

        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or int(every) < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        for flag, value in (("include_input", include_input), ("include_output", include_output),
                            ("keep_flows", keep_flows)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{flag} must be True or False, got {value!r}.")
        unknown = set(flow_options) - {"metric", "symmetrize", "method", "geodesic_sources", "seed"} \
            - {"alpha", "solver", "epsilon", "tol", "max_iter", "device", "batch_size"}
        if unknown:
            raise TypeError(f"RicciFlowMonitor got unknown options {sorted(unknown)}.")
        curvature_options = {key: value for key, value in flow_options.items()
                             if key not in ("metric", "symmetrize", "method", "geodesic_sources", "seed")}
        self._options = check_flow_options(
            k=k, curvature=curvature, disconnected=disconnected, progress=progress,
            metric=flow_options.get("metric"), symmetrize=flow_options.get("symmetrize"),
            method=flow_options.get("method"), geodesic_sources=flow_options.get("geodesic_sources"),
            seed=flow_options.get("seed"), curvature_options=curvature_options,
        )
        self.layers = _check_layers(model, layers)
        if include_output and "output" in self.layers:
            raise ValueError("include_output=True names the model's output 'output', which is also a module in layers=.")
        _, probe = _probe_tensor(X_probe, _model_dtype(model))
        check_k(k, probe.shape[0])
        self.model = model
        self.X_probe = X_probe
        self.k = int(k)
        self.curvature = curvature
        self.every = int(every)
        self.include_input = bool(include_input)
        self.include_output = bool(include_output)
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None and self.labels.shape != (probe.shape[0],):
            raise ValueError(f"labels: expected one label per probe point, shape ({probe.shape[0]},), "
                             f"got {self.labels.shape}.")
        self.batch_size = int(batch_size)
        self.keep_flows = bool(keep_flows)
        self.disconnected = disconnected
        self.progress = bool(progress)
        self.flow_options = dict(flow_options)
        self.flows: dict[int, RicciFlow] = {}
        self.last_flow: RicciFlow | None = None
        self._rows: list[dict] = []
        self._said: set[str] = set()

    @staticmethod
    def _metric(name, value):
        if name in MONITOR_COLUMNS or name.startswith(("layer_coefficient[", "curvature_gap[")):
            raise ValueError(f"metric {name!r}: that column is the monitor's own; choose another name.")
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(f"metric {name!r}: expected a scalar, got a tensor of shape {tuple(value.shape)}.")
            value = value.detach().cpu().item()
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"metric {name!r}: expected a real number, got {value!r}.")
        return float(value)

    def step(self, epoch: int, **metrics) -> RicciFlow | None:
        """Record the flow at this epoch if epoch is a multiple of `every`, with the user's metrics
        (step(epoch, loss=..., accuracy=...): real numbers or 1-element tensors) beside it; returns the
        flow (else None).  Metrics given at an epoch without a flow get a row of their own
        (flow_computed False, coefficients NaN), so nothing passed in is dropped."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)):
            raise TypeError(f"epoch must be an integer, got {epoch!r}.")
        values = {name: self._metric(name, value) for name, value in metrics.items()}
        if epoch % self.every:
            if values:
                self._rows.append({"epoch": int(epoch), "flow_computed": False, **values})
            return None
        acts = capture_activations(self.model, self.X_probe, self.layers, self.include_input, self.batch_size,
                                   include_output=self.include_output)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            flow = ricci_flow(acts, self.k, curvature=self.curvature, disconnected=self.disconnected,
                              progress=self.progress, **self.flow_options)
        messages = sorted({str(w.message) for w in caught})
        for message in messages:
            reason = _reason(message)
            if reason not in self._said:
                self._said.add(reason)
                warnings.warn(f"RicciFlowMonitor, epoch {epoch}: {message} (said once; every step's warnings are "
                              f"in history['warnings'])", stacklevel=2)
        finite = flow.local_coefficients[np.isfinite(flow.local_coefficients)]
        row = {
            "epoch": int(epoch),
            "flow_computed": True,
            **values,
            "global_coefficient": flow.global_coefficient,
            "mean_local_coefficient": flow.mean_local_coefficient,
            "negative_local_share": float(np.mean(finite < 0)) if finite.size else float("nan"),
            "disconnected_layers": int(np.count_nonzero(flow.n_components > 1)),
            "n_joined_edges": int(flow.n_joined_edges.sum()),
            "warnings": "; ".join(messages),
        }
        for transition, value in zip(flow.transition_names, flow.layer_coefficients):
            row[f"layer_coefficient[{transition}]"] = value
        if self.labels is not None:
            for name, value in zip(flow.layer_names, flow.curvature_gap(self.labels)):
                row[f"curvature_gap[{name}]"] = value
        self._rows.append(row)
        self.last_flow = flow
        if self.keep_flows:
            self.flows[int(epoch)] = flow
        return flow

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows).set_index("epoch") if self._rows else pd.DataFrame()

    def plot(self, path: str | None = None):
        from ricci_fast.plotting import plot_history

        return plot_history(self.history, path)

    def early_stopping_epoch(self, column: str = "mean_local_coefficient", **options):
        """Hehl et al. (2025)'s geometry-informed early stopping (section 4.3; ricci_fast.stats.
        early_stopping_epoch, options patience=2, min_delta=0) on this monitor's history: the epoch
        with the lowest mean local coefficient once `patience` later records have not lowered it, else
        None.  Their setting: curvature="approx_ollivier", k=50, include_output=True, every=10.

            for epoch in range(max_epochs):
                train_one_epoch(...)
                monitor.step(epoch)
                best = monitor.early_stopping_epoch(patience=2)
                if best is not None:
                    break        # restore the weights saved at epoch `best`
        """
        from ricci_fast.stats import early_stopping_epoch

        return early_stopping_epoch(self.history, column, **options)

    def effective_depth(self, epoch: int | None = None, **options) -> int:
        """Hehl et al. (2025)'s effective depth (section 4.4; ricci_fast.stats.effective_depth, option
        tolerance) of the layer coefficients recorded at `epoch` (default: the last recorded flow): how
        many leading transitions do Ricci-flow-like work before the coefficients climb towards 0.
        Compare depths with ricci_fast.select_depth({depth: coefficients, ...})."""
        from ricci_fast.stats import effective_depth

        history = self.history
        if history.empty or not history["flow_computed"].any():
            raise ValueError("effective_depth: no flow recorded yet; call step() at an epoch that is a multiple of every.")
        recorded = history[history["flow_computed"].astype(bool)]
        if epoch is None:
            epoch = recorded.index[-1]
        elif epoch not in recorded.index:
            raise ValueError(f"effective_depth: no flow recorded at epoch {epoch!r}; recorded: {list(recorded.index)}.")
        columns = [c for c in recorded.columns if c.startswith("layer_coefficient[")]
        return effective_depth(recorded.loc[epoch, columns].to_numpy(dtype=np.float64), **options)


def _reason(message: str) -> str:
    """A warning's kind: its text before the first ': ', without numbers (each kind is said once, not
    again when only the layers or counts change from step to step)."""
    import re

    return re.sub(r"\d+", "#", message.split(": ", 1)[0])
