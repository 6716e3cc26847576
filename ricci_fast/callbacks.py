"""Ricci-flow coefficients inside training loops: a PyTorch Lightning callback, a Hugging Face
`TrainerCallback` and a TensorBoard writer for plain loops.

    from ricci_fast.callbacks import RicciFlowCallback            # pip install ".[torch,lightning]"
    trainer = lightning.Trainer(callbacks=[RicciFlowCallback(X_probe, k=30, every=5, labels=y_probe)])

    from ricci_fast.callbacks import RicciFlowTrainerCallback     # pip install ".[torch,hf]"
    trainer = transformers.Trainer(model, args, train_dataset=...)
    trainer.add_callback(RicciFlowTrainerCallback(X_probe, k=30, every=5, trainer=trainer))

    from ricci_fast.callbacks import write_tensorboard            # pip install ".[torch,tensorboard]"
    write_tensorboard(writer, monitor, step=epoch)                # after monitor.step(epoch)

Both callbacks run a `ricci_fast.torch.RicciFlowMonitor` on a fixed probe set every n epochs and log
the values of `flow_metrics`: the global, per-transition and mean local Ricci coefficients, the share
of negative local coefficients and, with labels, the curvature gap of every layer (definitions:
docs/definitions.md, section 4).  They never change the model's training flags or its gradients (the
monitor captures activations in eval mode under torch.no_grad() and restores every module's mode).

Lightning, transformers and tensorboard are optional extras: this module imports each only when the
object that needs it is first used, and `import ricci_fast` imports none of them.
"""

from __future__ import annotations

import math
import re

import numpy as np

__all__ = ["RicciFlowCallback", "RicciFlowTrainerCallback", "flow_metrics", "layer_labels", "write_tensorboard"]

#: Characters kept in metric names; the rest become "_" (TensorBoard, MLflow and others reject them).
_UNSAFE = re.compile(r"[^A-Za-z0-9_./-]")


def layer_labels(flow) -> list[str]:
    """The names of a flow's layers: `flow.layer_names` when the flow has them, else "0", "1", ..."""
    names = getattr(flow, "layer_names", None)
    if names is None or len(names) != flow.n_layers:
        return [str(i) for i in range(flow.n_layers)]
    return [str(name) for name in names]


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name)


def flow_metrics(flow, labels=None, prefix: str = "ricci/") -> dict[str, float]:
    """The scalars the callbacks log for one RicciFlow, as {name: float}.

    Names (with the default prefix): `ricci/global_coefficient`, `ricci/mean_local_coefficient`,
    `ricci/negative_local_share`, `ricci/disconnected_layers`, one `ricci/layer_coefficient/A_to_B`
    per transition and, when labels are given, one `ricci/curvature_gap/A` per layer, where A and B
    are the layer names (`flow.layer_names`, or 0, 1, ... for a list of layers) with characters other
    than letters, digits and `_./-` replaced by `_`.  Undefined values (a disconnected layer, too few
    transitions) are NaN, never dropped, so every epoch logs the same names.
    """
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a string, got {type(prefix).__name__}.")
    local = np.asarray(flow.local_coefficients, dtype=np.float64)
    finite = local[np.isfinite(local)]
    names = [_safe(name) for name in layer_labels(flow)]
    metrics = {
        f"{prefix}global_coefficient": float(flow.global_coefficient),
        f"{prefix}mean_local_coefficient": float(finite.mean()) if finite.size else math.nan,
        f"{prefix}negative_local_share": float(np.mean(finite < 0)) if finite.size else math.nan,
        f"{prefix}disconnected_layers": float(np.count_nonzero(np.asarray(flow.n_components) > 1)),
    }
    for l, value in enumerate(flow.layer_coefficients):
        metrics[f"{prefix}layer_coefficient/{names[l]}_to_{names[l + 1]}"] = float(value)
    if labels is not None:
        for name, value in zip(names, flow.curvature_gap(labels)):
            metrics[f"{prefix}curvature_gap/{name}"] = float(value)
    return metrics


def _flow_and_labels(flow_or_monitor, labels):
    """(RicciFlow, labels) from a RicciFlow or a RicciFlowMonitor (its latest flow and its labels)."""
    if hasattr(flow_or_monitor, "local_coefficients") and hasattr(flow_or_monitor, "layer_coefficients"):
        return flow_or_monitor, labels
    if hasattr(flow_or_monitor, "last_flow"):
        flow = flow_or_monitor.last_flow
        if flow is None:
            raise ValueError("flow_or_monitor: the monitor has recorded nothing yet; call monitor.step(epoch) first.")
        return flow, labels if labels is not None else getattr(flow_or_monitor, "labels", None)
    raise TypeError(
        f"flow_or_monitor: expected a RicciFlow or a RicciFlowMonitor, got {type(flow_or_monitor).__name__}."
    )


def write_tensorboard(writer_or_logdir, flow_or_monitor, step: int, *, labels=None, prefix: str = "ricci/",
                      histograms: bool = True) -> None:
    """Write a flow to TensorBoard: every `flow_metrics` value as a scalar at `step` and, with
    histograms=True, histograms of the local coefficients (`<prefix>local_coefficients`, finite ones)
    and of every transition's local expansion eta_l(x) (`<prefix>node_eta/A_to_B`).

    writer_or_logdir: anything with add_scalar and add_histogram (torch.utils.tensorboard's
    SummaryWriter, tensorboardX's, a Lightning TensorBoardLogger's `.experiment`), or a directory,
    for which a SummaryWriter is opened, written and closed.  flow_or_monitor: a RicciFlow, or a
    RicciFlowMonitor, whose latest flow and labels are written.
    """
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step must be a non-negative integer (the epoch or global step), got {step!r}.")
    flow, labels = _flow_and_labels(flow_or_monitor, labels)
    metrics = flow_metrics(flow, labels, prefix)
    if hasattr(writer_or_logdir, "add_scalar"):
        writer, owned = writer_or_logdir, False
    elif isinstance(writer_or_logdir, (str, bytes)) or hasattr(writer_or_logdir, "__fspath__"):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ImportError(
                "writing to a TensorBoard log directory needs torch and tensorboard: "
                "pip install \".[torch,tensorboard]\" (or pass your own SummaryWriter)."
            ) from None
        writer, owned = SummaryWriter(log_dir=str(writer_or_logdir)), True
    else:
        raise TypeError(
            "writer_or_logdir: expected a SummaryWriter (anything with add_scalar) or a log directory, "
            f"got {type(writer_or_logdir).__name__}."
        )
    try:
        for name, value in metrics.items():
            writer.add_scalar(name, value, int(step))
        if histograms:
            _write_histograms(writer, flow, prefix, int(step))
    finally:
        if owned:
            writer.close()


def _write_histograms(writer, flow, prefix: str, step: int) -> None:
    local = np.asarray(flow.local_coefficients, dtype=np.float64)
    local = local[np.isfinite(local)]
    # an empty histogram is an error in TensorBoard's writer; nothing to show then
    if local.size:
        writer.add_histogram(f"{prefix}local_coefficients", local, step)
    names = [_safe(name) for name in layer_labels(flow)]
    for l in range(flow.n_layers - 1):
        eta = np.asarray(flow.node_eta[l], dtype=np.float64)
        eta = eta[np.isfinite(eta)]
        if eta.size:
            writer.add_histogram(f"{prefix}node_eta/{names[l]}_to_{names[l + 1]}", eta, step)


class _ProbeRunner:
    """What both callbacks share: argument checks, a RicciFlowMonitor made on first use, the metrics."""

    def __init__(self, X_probe, k, every, labels, prefix, monitor_options):
        shape = getattr(X_probe, "shape", None)
        if shape is None:
            X_probe = np.asarray(X_probe)
            shape = X_probe.shape
        if len(shape) < 2 or shape[0] < 2:
            raise ValueError(f"X_probe: expected shape (N, ...) with N >= 2 probe points, got {tuple(shape)}.")
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer (run every n epochs), got {every!r}.")
        if labels is not None and len(labels) != shape[0]:
            raise ValueError(f"labels: {len(labels)} labels for {shape[0]} probe points.")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, got {type(prefix).__name__}.")
        self.X_probe = X_probe
        self.k = k
        self.every = int(every)
        self.labels = labels
        self.prefix = prefix
        self.monitor_options = monitor_options
        self.monitor = None

    def monitor_for(self, model):
        if self.monitor is None or self.monitor.model is not model:
            from ricci_fast.torch import RicciFlowMonitor

            self.monitor = RicciFlowMonitor(model, self.X_probe, k=self.k, every=self.every, labels=self.labels,
                                            **self.monitor_options)
        return self.monitor

    def run(self, model, epoch: int):
        """(flow, metrics) when epoch is one to record, else None."""
        monitor = self.monitor_for(model)
        flow = monitor.step(int(epoch))
        if flow is None:
            return None
        return flow, flow_metrics(flow, monitor.labels, self.prefix)


def __getattr__(name):
    # the framework classes subclass the framework's own base class, so they are built on first use
    if name == "RicciFlowCallback":
        from ricci_fast._callbacks_lightning import RicciFlowCallback

        return RicciFlowCallback
    if name == "RicciFlowTrainerCallback":
        from ricci_fast._callbacks_hf import RicciFlowTrainerCallback

        return RicciFlowTrainerCallback
    raise AttributeError(f"module 'ricci_fast.callbacks' has no attribute {name!r}")
