"""`ricci_fast.callbacks.RicciFlowCallback`, the PyTorch Lightning callback (imported on first use)."""

from __future__ import annotations

try:
    from lightning.pytorch import Callback
except ImportError:
    try:
        from pytorch_lightning import Callback
    except ImportError:
        raise ImportError(
            "RicciFlowCallback needs PyTorch Lightning: pip install \".[torch,lightning]\"."
        ) from None

from ricci_fast._validation import check_choice
from ricci_fast.callbacks import _ProbeRunner, _write_histograms


class RicciFlowCallback(Callback):
    """Ricci-flow coefficients of a LightningModule on a fixed probe set, logged every n epochs.

        trainer = lightning.Trainer(max_epochs=50, callbacks=[
            RicciFlowCallback(X_probe, k=30, every=5, labels=y_probe)])

    At the end of every `every`-th training epoch (on="train", the default) or validation epoch
    (on="validation"; the sanity check is skipped) the callback runs a RicciFlowMonitor on X_probe
    (forward hooks on the LightningModule, in eval mode under torch.no_grad(); every module's training
    flag is restored and no gradient is touched) and logs `flow_metrics` through `pl_module.log_dict`
    (on_epoch=True), so every logger of the trainer receives them and they appear in
    `trainer.callback_metrics` (EarlyStopping and ModelCheckpoint can monitor
    "ricci/global_coefficient").  With histograms=True, loggers whose `experiment` can
    `add_histogram` (TensorBoardLogger) also get the local coefficients and expansions as histograms.

    X_probe: (N, ...) array or tensor, moved to the module's device for each run.  labels: class of
    each probe point, for the curvature gap.  k, every, and any further RicciFlowMonitor options
    (layers=, curvature=, include_input=, batch_size=, ...) are passed to the monitor, which stays
    available as `callback.monitor` (its `history` has one row per recorded epoch).  Epochs are
    Lightning's `trainer.current_epoch` (0 for the first).  Under DDP every process computes the same
    values; only rank 0's loggers write them.
    """

    def __init__(self, X_probe, *, k: int = 30, every: int = 1, labels=None, on: str = "train",
                 prefix: str = "ricci/", histograms: bool = True, **monitor_options):
        super().__init__()
        check_choice(on, "on", ("train", "validation"))
        self._runner = _ProbeRunner(X_probe, k, every, labels, prefix, monitor_options)
        self.on = on
        self.histograms = bool(histograms)
        #: the latest metrics logged, {name: float}
        self.last_metrics: dict[str, float] = {}

    @property
    def monitor(self):
        """The RicciFlowMonitor (None until the trainer has started)."""
        return self._runner.monitor

    def setup(self, trainer, pl_module, stage=None):
        # made here, before the first epoch, so that a bad monitor option fails at once
        self._runner.monitor_for(pl_module)

    def on_train_epoch_end(self, trainer, pl_module):
        if self.on == "train":
            self._record(trainer, pl_module)

    def on_validation_epoch_end(self, trainer, pl_module):
        if self.on == "validation" and not trainer.sanity_checking:
            self._record(trainer, pl_module)

    def _record(self, trainer, pl_module):
        result = self._runner.run(pl_module, trainer.current_epoch)
        if result is None:
            return
        flow, metrics = result
        self.last_metrics = metrics
        pl_module.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=False, logger=True)
        if self.histograms:
            for logger in trainer.loggers:
                experiment = getattr(logger, "experiment", None)
                if callable(getattr(experiment, "add_histogram", None)):
                    _write_histograms(experiment, flow, self._runner.prefix, trainer.global_step)
