"""`ricci_fast.callbacks.RicciFlowTrainerCallback`, the Hugging Face TrainerCallback (imported on first use)."""

from __future__ import annotations

try:
    from transformers import TrainerCallback
except ImportError:
    raise ImportError(
        "RicciFlowTrainerCallback needs Hugging Face transformers: pip install \".[torch,hf]\"."
    ) from None

from ricci_fast._validation import check_choice
from ricci_fast.callbacks import _ProbeRunner, _write_histograms


class RicciFlowTrainerCallback(TrainerCallback):
    """Ricci-flow coefficients of a `transformers.Trainer`'s model on a fixed probe set, every n epochs.

        trainer = Trainer(model=model, args=args, train_dataset=train)
        trainer.add_callback(RicciFlowTrainerCallback(X_probe, k=30, every=5, labels=y_probe, trainer=trainer))
        trainer.train()
        trainer.state.log_history        # rows with "ricci/global_coefficient", ...

    At the end of every `every`-th epoch (on="epoch", the default) or after every `every`-th evaluation
    (on="evaluate") the callback runs a RicciFlowMonitor on X_probe (forward hooks on the model, in
    eval mode under torch.no_grad(); every module's training flag is restored and no gradient is
    touched) and logs `flow_metrics`.  With trainer= the values go through `trainer.log`, hence to
    `trainer.state.log_history` and to every integration in `report_to` (TensorBoard, W&B, ...), and
    with histograms=True the local coefficients and expansions also go to the TensorBoard integration's
    writer as histograms.  Without trainer= (a callback passed as `Trainer(callbacks=[...])` cannot
    see the trainer) they are appended to `state.log_history` only.

    The model's inputs are the probe points as one positional tensor (`model(X)` in batches), so the
    model's forward must accept them that way.  X_probe: (N, ...) array or tensor, moved to the
    model's device.  labels: class of each probe point, for the curvature gap.  k, every and further
    RicciFlowMonitor options (layers=, curvature=, include_input=, batch_size=, ...) go to the monitor,
    available as `callback.monitor`.  Epochs are counted from 0 (state.epoch - 1 at an epoch's end).
    """

    def __init__(self, X_probe, *, k: int = 30, every: int = 1, labels=None, on: str = "epoch", trainer=None,
                 prefix: str = "ricci/", histograms: bool = True, **monitor_options):
        check_choice(on, "on", ("epoch", "evaluate"))
        if trainer is not None and not callable(getattr(trainer, "log", None)):
            raise TypeError(f"trainer: expected a transformers.Trainer, got {type(trainer).__name__}.")
        self._runner = _ProbeRunner(X_probe, k, every, labels, prefix, monitor_options)
        self.on = on
        self.trainer = trainer
        self.histograms = bool(histograms)
        self._evaluations = 0
        #: the latest metrics logged, {name: float}
        self.last_metrics: dict[str, float] = {}

    @property
    def monitor(self):
        """The RicciFlowMonitor (None until training has started)."""
        return self._runner.monitor

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        # made before the first epoch, so that a bad monitor option fails at once
        if model is not None:
            self._runner.monitor_for(model)

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        if self.on == "epoch":
            # state.epoch counts completed epochs (1.0 after the first) at this point
            self._record(state, model, max(int(round(state.epoch or 0)) - 1, 0))

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        if self.on == "evaluate":
            self._record(state, model, self._evaluations)
            self._evaluations += 1

    def _record(self, state, model, epoch: int):
        if model is None:  # pragma: no cover - the Trainer always passes its model
            raise RuntimeError("RicciFlowTrainerCallback: the trainer passed no model to the callback.")
        result = self._runner.run(model, epoch)
        if result is None:
            return
        flow, metrics = result
        self.last_metrics = metrics
        if self.trainer is not None:
            self.trainer.log(dict(metrics))
            if self.histograms:
                for callback in self.trainer.callback_handler.callbacks:
                    writer = getattr(callback, "tb_writer", None)
                    if writer is not None and callable(getattr(writer, "add_histogram", None)):
                        _write_histograms(writer, flow, self._runner.prefix, state.global_step)
        else:
            state.log_history.append({**metrics, "epoch": state.epoch, "step": state.global_step})
