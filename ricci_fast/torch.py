"""PyTorch glue: capture a model's layer activations and monitor its Ricci flow during training.

    from ricci_fast.torch import capture_activations, RicciFlowMonitor

Importing this module needs PyTorch (pip install 'ricci_fast[torch]').
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np
import pandas as pd

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - exercised only without torch
    raise ImportError("ricci_fast.torch needs PyTorch: pip install 'ricci_fast[torch]'.") from None

from ricci_fast.curvature import curvature_gap
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
    raise TypeError(f"module {name!r} returned {type(output).__name__}, not a tensor; pass other layers=.")


def _model_device(model):
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def capture_activations(model: nn.Module, X, layers=None, include_input: bool = True, batch_size: int = 1024,
                        device=None) -> "OrderedDict[str, np.ndarray]":
    """Activations of `model` on the probe points X, one (N, features) float32 array per layer.

    The model runs unchanged through forward hooks, in eval mode and under torch.no_grad(); every
    module's training flag and the grad mode are restored afterwards, also after an exception.
    layers: module names (see model.named_modules()); by default every element-wise activation module
    (for an nn.Sequential MLP: the output of each hidden layer after its nonlinearity).  A module
    called several times per forward pass (a shared nn.ReLU in a residual block) gives one layer per
    call, named "name", "name#2", ...  include_input puts the flattened input first, as "input".
    X is processed in batches of batch_size on `device` (default: the model's).

    Returns an ordered dict, layers in the order the forward pass reached them.
    """
    if isinstance(batch_size, bool) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    named = dict(model.named_modules())
    if layers is None:
        layers = activation_modules(model)
        if not layers:
            raise ValueError(
                "the model has no activation modules (nn.ReLU, nn.Tanh, ...) to capture by default; "
                f"name the layers: layers=[...] from {list(named)[1:][:20]}"
            )
    else:
        layers = [layers] if isinstance(layers, str) else list(layers)
        missing = [name for name in layers if name not in named]
        if missing:
            raise ValueError(f"layers: no modules named {missing}; the model has {list(named)[1:][:30]}")
    device = torch.device(device) if device is not None else _model_device(model)
    X_t = torch.as_tensor(X)
    if X_t.ndim < 2:
        raise ValueError(f"X: expected shape (N, ...) with one row per probe point, got {tuple(X_t.shape)}.")
    if not X_t.is_floating_point():
        X_t = X_t.to(torch.float32)

    records: dict[str, list] = {}
    order: list[str] = []
    calls: dict[str, int] = {}

    def make_hook(name):
        def hook(module, inputs, output):
            calls[name] = calls.get(name, 0) + 1
            key = name if calls[name] == 1 else f"{name}#{calls[name]}"
            if key not in records:
                records[key] = []
                order.append(key)
            tensor = _first_tensor(output, name).detach()
            records[key].append(tensor.reshape(tensor.shape[0], -1).to("cpu", torch.float32))

        return hook

    modes = {module: module.training for module in model.modules()}
    handles = [named[name].register_forward_hook(make_hook(name)) for name in layers]
    try:
        model.eval()
        with torch.no_grad():
            for start in range(0, X_t.shape[0], int(batch_size)):
                calls.clear()
                model(X_t[start:start + int(batch_size)].to(device))
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes.items():
            module.training = mode
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    if include_input:
        out["input"] = X_t.detach().reshape(X_t.shape[0], -1).to("cpu", torch.float32).numpy()
    for key in order:
        out[key] = torch.cat(records[key]).numpy()
    return out


class RicciFlowMonitor:
    """Ricci-flow coefficients of a model on a fixed probe set, recorded during training.

        monitor = RicciFlowMonitor(model, X_probe, k=30, every=5, labels=y_probe)
        for epoch in range(epochs):
            train_one_epoch(...)
            monitor.step(epoch)
        monitor.history          # one row per recorded epoch
        monitor.plot("flow_over_training.png")

    Each step captures the layers (capture_activations; the model's mode is left as it was), computes
    ricci_flow with the given options and appends the global coefficient, each layer coefficient, the
    mean and the negative share of the local coefficients and, with labels, the curvature gap per layer.
    Disconnected layers give NaN for the global coefficient (disconnected="nan") instead of stopping
    training; their count is recorded.
    """

    def __init__(self, model: nn.Module, X_probe, *, k: int = 30, curvature: str = "forman", every: int = 1,
                 layers=None, include_input: bool = True, labels=None, batch_size: int = 1024,
                 keep_flows: bool = False, disconnected: str = "nan", **flow_options):
        if isinstance(every, bool) or int(every) < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}.")
        self.model = model
        self.X_probe = X_probe
        self.k = k
        self.curvature = curvature
        self.every = int(every)
        self.layers = layers
        self.include_input = include_input
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None and self.labels.shape[0] != len(X_probe):
            raise ValueError(f"labels: {self.labels.shape[0]} labels for {len(X_probe)} probe points.")
        self.batch_size = batch_size
        self.keep_flows = keep_flows
        self.disconnected = disconnected
        self.flow_options = flow_options
        self.flows: dict[int, RicciFlow] = {}
        self.last_flow: RicciFlow | None = None
        self._rows: list[dict] = []

    def step(self, epoch: int) -> RicciFlow | None:
        """Record the flow at this epoch if epoch is a multiple of `every`; returns it (else None)."""
        if epoch % self.every:
            return None
        acts = capture_activations(self.model, self.X_probe, self.layers, self.include_input, self.batch_size)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            flow = ricci_flow(list(acts.values()), self.k, curvature=self.curvature, disconnected=self.disconnected,
                              progress=False, **self.flow_options)
        row = {
            "epoch": epoch,
            "global_coefficient": flow.global_coefficient,
            "mean_local_coefficient": flow.mean_local_coefficient,
            "negative_local_share": float(np.mean(flow.local_coefficients[np.isfinite(flow.local_coefficients)] < 0)),
            "disconnected_layers": int(np.count_nonzero(flow.n_components > 1)),
            "warnings": "; ".join(sorted({str(w.message) for w in caught})),
        }
        for l, value in enumerate(flow.layer_coefficients):
            row[f"layer_coefficient_{l}"] = value
        if self.labels is not None:
            for l, value in enumerate(flow.curvature_gap(self.labels)):
                row[f"curvature_gap_{l}"] = value
        self._rows.append(row)
        self.last_flow = flow
        if self.keep_flows:
            self.flows[epoch] = flow
        return flow

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows).set_index("epoch") if self._rows else pd.DataFrame()

    def plot(self, path: str | None = None):
        from ricci_fast.plotting import plot_history

        return plot_history(self.history, path)

    def early_stopping_epoch(self, column: str = "mean_local_coefficient", **options):
        """Hehl et al. (2025)'s geometry-informed early stopping on this monitor's history: the epoch to
        restore once the mean local coefficient has stopped falling, else None (ricci_fast.stats.
        early_stopping_epoch; options patience, min_delta)."""
        from ricci_fast.stats import early_stopping_epoch

        return early_stopping_epoch(self.history, column, **options)
