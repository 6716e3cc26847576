"""Training-loop integrations, with real Lightning and Hugging Face trainers on a tiny model (CPU, seconds).

Every logged value is compared with ricci_flow on activations computed here by hand from the weights
(not through capture_activations), at the very moment the callback ran; the model's training flags and
gradients are checked to be the same before and after the callback.
"""

import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import ricci_fast as rf  # noqa: E402
from ricci_fast.callbacks import flow_metrics, layer_labels, write_tensorboard  # noqa: E402
from ricci_fast.datasets import concentric_circles  # noqa: E402

K = 8
N_PROBE = 80


def data(seed=0):
    X, y = concentric_circles(N_PROBE + 96, noise=0.1, seed=seed)
    X = X.astype(np.float32)
    return X[N_PROBE:], y[N_PROBE:], X[:N_PROBE], y[:N_PROBE]


def make_net(seed=0):
    torch.manual_seed(seed)
    # Dropout makes train and eval mode differ, so a monitor that left the mode wrong would show
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 8), nn.ReLU(),
                         nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))


def by_hand(net, X):
    """[input, relu 1, relu 2, relu 3] in eval mode, from the weights (dropout is the identity)."""
    with torch.no_grad():
        h = torch.as_tensor(X)
        out = [h.numpy().copy()]
        for i in (0, 3, 5):
            h = F.relu(F.linear(h, net[i].weight, net[i].bias))
            out.append(h.numpy().copy())
    return out


def expected_metrics(acts, labels, names):
    """The metrics by definition, from a direct ricci_flow; names: the monitor flow's layer names."""
    flow = rf.ricci_flow(acts, K, disconnected="nan", progress=False)
    local = flow.local_coefficients[np.isfinite(flow.local_coefficients)]
    want = {
        "ricci/global_coefficient": flow.global_coefficient,
        "ricci/mean_local_coefficient": local.mean(),
        "ricci/negative_local_share": np.mean(local < 0),
        "ricci/disconnected_layers": float(np.sum(flow.n_components > 1)),
    }
    for l in range(len(acts) - 1):
        want[f"ricci/layer_coefficient/{names[l]}_to_{names[l + 1]}"] = flow.layer_coefficients[l]
    for l, gap in enumerate(flow.curvature_gap(labels)):
        want[f"ricci/curvature_gap/{names[l]}"] = gap
    return want


def model_state(module):
    """Training flag of every module and a copy of every gradient."""
    flags = [m.training for m in module.modules()]
    grads = [None if p.grad is None else p.grad.detach().clone() for p in module.parameters()]
    return flags, grads, torch.is_grad_enabled()


def assert_same_state(before, after):
    assert before[0] == after[0], "training flags changed"
    assert before[2] == after[2], "grad mode changed"
    assert len(before[1]) == len(after[1])
    for a, b in zip(before[1], after[1]):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.equal(a, b), "a gradient changed"


def assert_metrics_equal(got, want, rtol=0.0):
    assert set(got) == set(want), sorted(set(got) ^ set(want))
    for name, value in want.items():
        if math.isnan(value):
            assert math.isnan(got[name]), name
        elif rtol:
            assert got[name] == pytest.approx(value, rel=rtol, abs=1e-7), name
        else:
            assert got[name] == value, name


def test_import_ricci_fast_imports_no_training_framework():
    code = ("import sys, ricci_fast, ricci_fast.callbacks; "
            "bad = [m for m in ('lightning', 'pytorch_lightning', 'transformers', 'tensorboard', 'accelerate') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_flow_metrics_names_and_values():
    X_train, y_train, X, y = data()
    acts = by_hand(make_net(), X)
    flow = rf.ricci_flow(acts, K, disconnected="nan", progress=False)
    metrics = flow_metrics(flow, y)
    assert_metrics_equal(metrics, expected_metrics(acts, y, layer_labels(flow)))
    assert "ricci/curvature_gap/0" not in flow_metrics(flow)  # no labels, no gap
    assert all(name.startswith("custom.") for name in flow_metrics(flow, prefix="custom."))
    with pytest.raises(TypeError, match="prefix"):
        flow_metrics(flow, prefix=None)


def test_layer_names_are_used_and_made_safe_for_loggers():
    X_train, y_train, X, y = data()
    flow = rf.ricci_flow(by_hand(make_net(), X), K, disconnected="nan", progress=False)

    class Named:
        layer_names = ("input", "block 1", "relu#2", "head")

        def __getattr__(self, name):
            return getattr(flow, name)

    metrics = flow_metrics(Named(), y)
    assert "ricci/layer_coefficient/input_to_block_1" in metrics
    assert "ricci/layer_coefficient/block_1_to_relu_2" in metrics
    assert "ricci/curvature_gap/head" in metrics
    assert metrics["ricci/layer_coefficient/relu_2_to_head"] == flow.layer_coefficients[2]


# --- PyTorch Lightning ----------------------------------------------------------------------------


def test_lightning_callback_logs_the_flow_and_leaves_the_model_alone(tmp_path):
    L = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.loggers import Logger

    from ricci_fast.callbacks import RicciFlowCallback

    X_train, y_train, X, y = data()

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = make_net()

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            xb, yb = batch
            loss = F.cross_entropy(self(xb), yb)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=0.02)

    class Recorder(Logger):
        def __init__(self):
            super().__init__()
            self.rows = []

        @property
        def name(self):
            return "recorder"

        @property
        def version(self):
            return 0

        def log_hyperparams(self, params, *args, **kwargs):
            pass

        def log_metrics(self, metrics, step=None):
            self.rows.append(dict(metrics))

    class Witness(L.Callback):
        """Placed before and after the Ricci callback: records the state and the true activations."""

        def __init__(self):
            self.states = []
            self.acts = []

        def on_train_epoch_end(self, trainer, pl_module):
            self.states.append(model_state(pl_module))
            self.acts.append(by_hand(pl_module.net, X))

    callback = RicciFlowCallback(X, k=K, every=2, labels=y)
    before, after, logger = Witness(), Witness(), Recorder()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(X_train), torch.tensor(y_train)), batch_size=32)
    trainer = L.Trainer(max_epochs=3, accelerator="cpu", devices=1, logger=logger, callbacks=[before, callback, after],
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        log_every_n_steps=1, default_root_dir=tmp_path)
    trainer.fit(Module(), loader)

    assert callback.monitor.history.index.tolist() == [0, 2]  # every=2 over epochs 0, 1, 2
    for b, a in zip(before.states, after.states):
        assert_same_state(b, a)
    assert all(all(flags) for flags, _, _ in before.states)  # it really was in training mode
    names = layer_labels(callback.monitor.last_flow)
    want = expected_metrics(after.acts[2], y, names)
    assert_metrics_equal(callback.last_metrics, want)  # float64, exactly
    logged = [row for row in logger.rows if "ricci/global_coefficient" in row]
    assert [row["epoch"] for row in logged] == [0, 2]
    assert_metrics_equal({k: v for k, v in logged[-1].items() if k.startswith("ricci/")}, want, rtol=1e-6)
    first = expected_metrics(after.acts[0], y, names)
    assert_metrics_equal({k: v for k, v in logged[0].items() if k.startswith("ricci/")}, first, rtol=1e-6)
    # in callback_metrics, so EarlyStopping / ModelCheckpoint can monitor it
    assert float(trainer.callback_metrics["ricci/global_coefficient"]) == pytest.approx(
        want["ricci/global_coefficient"], rel=1e-6, nan_ok=True)


def test_lightning_callback_checks_its_arguments():
    pytest.importorskip("lightning.pytorch")
    from ricci_fast.callbacks import RicciFlowCallback

    X = np.zeros((10, 2), np.float32)
    with pytest.raises(ValueError, match="every"):
        RicciFlowCallback(X, every=0)
    with pytest.raises(ValueError, match="on="):
        RicciFlowCallback(X, on="test")
    with pytest.raises(ValueError, match="labels"):
        RicciFlowCallback(X, labels=[0, 1])
    with pytest.raises(ValueError, match="X_probe"):
        RicciFlowCallback(np.zeros(10))


# --- Hugging Face Trainer -------------------------------------------------------------------------


@pytest.mark.parametrize("pass_trainer, on", [(True, "epoch"), (False, "epoch"), (True, "evaluate")])
def test_hf_trainer_callback_logs_the_flow_and_leaves_the_model_alone(tmp_path, pass_trainer, on):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from ricci_fast.callbacks import RicciFlowTrainerCallback

    X_train, y_train, X, y = data()

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = make_net()

        def forward(self, x, labels=None):
            logits = self.net(x)
            out = {"logits": logits}
            if labels is not None:
                out["loss"] = F.cross_entropy(logits, labels)
            return out

    class Points(torch.utils.data.Dataset):
        def __len__(self):
            return len(X_train)

        def __getitem__(self, i):
            return {"x": torch.tensor(X_train[i]), "labels": torch.tensor(int(y_train[i]))}

    class Witness(transformers.TrainerCallback):
        def __init__(self):
            self.states = []
            self.acts = []

        def record(self, model):
            self.states.append(model_state(model))
            self.acts.append(by_hand(model.net, X))

        def on_epoch_end(self, args, state, control, model=None, **kwargs):
            if on == "epoch":
                self.record(model)

        def on_evaluate(self, args, state, control, model=None, **kwargs):
            if on == "evaluate":
                self.record(model)

    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), num_train_epochs=3, per_device_train_batch_size=32, learning_rate=0.02,
        use_cpu=True, report_to="none", save_strategy="no", logging_strategy="epoch", disable_tqdm=True,
        seed=0, eval_strategy="epoch" if on == "evaluate" else "no")
    before, after = Witness(), Witness()
    model = Model()
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Points(),
                                   eval_dataset=Points() if on == "evaluate" else None)
    callback = RicciFlowTrainerCallback(X, k=K, every=2, labels=y, on=on, trainer=trainer if pass_trainer else None)
    for cb in (before, callback, after):
        trainer.add_callback(cb)
    trainer.train()

    assert callback.monitor.history.index.tolist() == [0, 2]
    for b, a in zip(before.states, after.states):
        assert_same_state(b, a)
    assert all(all(flags) for flags, _, _ in before.states) == (on == "epoch")  # evaluation runs in eval mode
    names = layer_labels(callback.monitor.last_flow)
    rows = [row for row in trainer.state.log_history if "ricci/global_coefficient" in row]
    assert [row["epoch"] for row in rows] == [1.0, 3.0]  # HF counts completed epochs
    for row, acts in zip(rows, (after.acts[0], after.acts[2])):
        assert_metrics_equal({k: v for k, v in row.items() if k.startswith("ricci/")},
                             expected_metrics(acts, y, names))
    assert any("loss" in row for row in trainer.state.log_history)  # the trainer's own logging still works


# --- TensorBoard ----------------------------------------------------------------------------------


def test_write_tensorboard_scalars_and_histograms(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    from ricci_fast.torch import RicciFlowMonitor

    X_train, y_train, X, y = data()
    net = make_net()
    monitor = RicciFlowMonitor(net, X, k=K, labels=y)
    with pytest.raises(ValueError, match="step"):
        write_tensorboard(tmp_path, monitor, 0)  # nothing recorded yet
    wanted = {}
    writer = SummaryWriter(log_dir=str(tmp_path / "writer"))
    optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
    for epoch in range(2):
        loss = F.cross_entropy(net(torch.tensor(X_train)), torch.tensor(y_train))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        monitor.step(epoch)
        acts = by_hand(net, X)
        wanted[epoch] = expected_metrics(acts, y, layer_labels(monitor.last_flow))
        write_tensorboard(writer, monitor, epoch)
        write_tensorboard(tmp_path / "logdir", monitor.last_flow, epoch, labels=y)
    writer.close()

    for folder in ("writer", "logdir"):
        events = EventAccumulator(str(tmp_path / folder), size_guidance={"scalars": 0, "histograms": 0}).Reload()
        tags = events.Tags()
        assert set(tags["scalars"]) == set(wanted[0])
        for name in wanted[0]:
            values = {e.step: e.value for e in events.Scalars(name)}
            assert sorted(values) == [0, 1]
            for step, value in values.items():
                want = wanted[step][name]
                assert (math.isnan(value) and math.isnan(want)) or value == pytest.approx(want, rel=1e-6, abs=1e-7)
        hist = events.Histograms("ricci/local_coefficients")
        local = monitor.last_flow.local_coefficients
        local = local[np.isfinite(local)]
        assert [h.step for h in hist] == [0, 1]
        assert hist[-1].histogram_value.num == local.size
        assert hist[-1].histogram_value.min == pytest.approx(local.min())
        assert hist[-1].histogram_value.max == pytest.approx(local.max())
        assert hist[-1].histogram_value.sum == pytest.approx(local.sum())
        assert sum(t.startswith("ricci/node_eta/") for t in tags["histograms"]) == 3


def test_write_tensorboard_rejects_bad_arguments(tmp_path):
    X_train, y_train, X, y = data()
    flow = rf.ricci_flow(by_hand(make_net(), X), K, disconnected="nan", progress=False)
    with pytest.raises(TypeError, match="writer_or_logdir"):
        write_tensorboard(42, flow, 0)
    with pytest.raises(TypeError, match="flow_or_monitor"):
        write_tensorboard(tmp_path, "flow", 0)
    for step in (-1, 1.5, True):
        with pytest.raises(ValueError, match="step"):
            write_tensorboard(tmp_path, flow, step)
