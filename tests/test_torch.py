import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import ricci_fast as rf  # noqa: E402
from ricci_fast.torch import RicciFlowMonitor, activation_modules, capture_activations  # noqa: E402


def mlp(seed=0, width=8, depth=3):
    torch.manual_seed(seed)
    layers, d = [], 2
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    layers.append(nn.Linear(d, 2))
    return nn.Sequential(*layers)


def probe(n=60, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2)).astype(np.float32)


def test_sequential_mlp_captures_each_hidden_layer_after_its_activation():
    model = mlp()
    X = probe()
    acts = capture_activations(model, X, batch_size=7)
    assert list(acts) == ["input", "1", "3", "5"]
    h = torch.tensor(X)
    expected = [X]
    with torch.no_grad():
        for i in range(0, 6, 2):
            h = torch.relu(model[i](h))
            expected.append(h.numpy())
    for got, want in zip(acts.values(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert all(a.dtype == np.float32 for a in acts.values())


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Sequential(nn.Linear(6, 5), nn.GELU()))
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        return self.head(self.encoder(x))


def test_nested_modules_by_default_and_by_name():
    model = Nested()
    X = probe()
    acts = capture_activations(model, X, include_input=False)
    assert list(acts) == ["encoder.1", "encoder.2.1"]
    assert activation_modules(model) == ["encoder.1", "encoder.2.1"]
    chosen = capture_activations(model, X, layers=["encoder.2.0", "head"], include_input=False)
    with torch.no_grad():
        h = model.encoder[2][0](model.encoder[1](model.encoder[0](torch.tensor(X))))
        np.testing.assert_allclose(chosen["encoder.2.0"], h.numpy(), rtol=1e-6)
        np.testing.assert_allclose(chosen["head"], model(torch.tensor(X)).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="no modules named \\['decoder'\\]"):
        capture_activations(model, X, layers=["decoder"])


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 3, 3, padding=1)
        self.act1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(3, 4, 3)
        self.act2 = nn.ReLU()
        self.fc = nn.Linear(4 * 2 * 2, 2)

    def forward(self, x):
        x = self.pool(self.act1(self.conv1(x)))
        x = self.act2(self.conv2(x))
        return self.fc(x.flatten(1))


def test_small_cnn_feature_maps_are_flattened():
    torch.manual_seed(1)
    model = SmallCNN()
    X = torch.randn(30, 1, 8, 8)
    acts = capture_activations(model, X, batch_size=8)
    assert list(acts) == ["input", "act1", "act2"]
    assert acts["input"].shape == (30, 64) and acts["act1"].shape == (30, 3 * 8 * 8) and acts["act2"].shape == (30, 16)
    with torch.no_grad():
        expected = model.act2(model.conv2(model.pool(model.act1(model.conv1(X))))).flatten(1)
    np.testing.assert_allclose(acts["act2"], expected.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.warns(UserWarning, match="needs at least 3 transitions"):
        flow = rf.ricci_flow(list(acts.values()), 5, progress=False, disconnected="nan")
    assert flow.n_layers == 3


class Residual(nn.Module):
    def __init__(self, width=6):
        super().__init__()
        self.inp = nn.Linear(2, width)
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        self.relu = nn.ReLU()  # shared: called twice per forward pass
        self.out = nn.Linear(width, 2)

    def forward(self, x):
        h = self.relu(self.inp(x))
        h = self.relu(h + self.fc2(torch.tanh(self.fc1(h))))
        return self.out(h)


def test_residual_block_with_a_shared_activation():
    torch.manual_seed(2)
    model = Residual()
    X = probe()
    acts = capture_activations(model, X, batch_size=16)
    assert list(acts) == ["input", "relu", "relu#2"]
    with torch.no_grad():
        h1 = torch.relu(model.inp(torch.tensor(X)))
        h2 = torch.relu(h1 + model.fc2(torch.tanh(model.fc1(h1))))
    np.testing.assert_allclose(acts["relu"], h1.numpy(), rtol=1e-6)
    np.testing.assert_allclose(acts["relu#2"], h2.numpy(), rtol=1e-6)


def test_modes_and_grad_state_restored_even_after_an_exception():
    model = Nested()
    model.train()
    model.encoder[2].eval()  # a mixed state must come back exactly
    before = {name: m.training for name, m in model.named_modules()}
    capture_activations(model, probe())
    assert {name: m.training for name, m in model.named_modules()} == before
    assert torch.is_grad_enabled()
    assert all(p.grad is None for p in model.parameters())

    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.act = nn.ReLU()

        def forward(self, x):
            if x.shape[0] < 5:
                raise RuntimeError("boom")
            return self.act(self.lin(x))

    boom = Boom().train()
    with pytest.raises(RuntimeError, match="boom"):
        capture_activations(boom, probe(n=13), batch_size=10)
    assert boom.training and boom.lin.training
    assert not boom.act._forward_hooks  # hooks removed
    assert torch.is_grad_enabled()


def test_batch_size_does_not_change_the_result():
    model = mlp(3)
    X = probe(n=50)
    a = capture_activations(model, X, batch_size=50)
    b = capture_activations(model, X, batch_size=3)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-7)


def test_monitor_history_matches_direct_calls():
    model = mlp(4, width=10, depth=4)
    X = probe(n=120)
    labels = (X[:, 0] > 0).astype(int)
    monitor = RicciFlowMonitor(model, X, k=6, every=2, labels=labels, keep_flows=True)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(5):
        loss = nn.functional.cross_entropy(model(torch.tensor(X)), torch.tensor(labels))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        flow = monitor.step(epoch)
        assert (flow is None) == (epoch % 2 == 1)
        if flow is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                direct = rf.ricci_flow(capture_activations(model, X), 6, progress=False)
            row = monitor.history.loc[epoch]
            assert row["global_coefficient"] == pytest.approx(direct.global_coefficient, nan_ok=True)
            assert row["mean_local_coefficient"] == pytest.approx(direct.mean_local_coefficient)
            assert direct.layer_names == ("input", "1", "3", "5", "7")
            for transition, value in zip(direct.transition_names, direct.layer_coefficients):
                assert row[f"layer_coefficient[{transition}]"] == pytest.approx(value, nan_ok=True)
            for name, value in zip(direct.layer_names, direct.curvature_gap(labels)):
                assert row[f"curvature_gap[{name}]"] == pytest.approx(value, nan_ok=True)
    assert list(monitor.history.index) == [0, 2, 4]
    assert sorted(monitor.flows) == [0, 2, 4]
    assert model.training  # the monitor leaves training mode alone


def test_monitor_plot(tmp_path):
    pytest.importorskip("matplotlib")
    model = mlp(5, width=8, depth=4)
    X = probe(n=80)
    monitor = RicciFlowMonitor(model, X, k=5, labels=(X[:, 1] > 0).astype(int))
    monitor.step(0)
    monitor.step(1)
    monitor.plot(str(tmp_path / "history.png"))
    assert (tmp_path / "history.png").stat().st_size > 5000


def test_layer_curvature_leaves_autograd_alone():
    model = mlp(6)
    X = torch.tensor(probe(n=40), requires_grad=True)
    hidden = model[1](model[0](X))
    before = hidden.grad_fn
    layer = rf.layer_curvature(hidden, 5)
    assert hidden.grad_fn is before and hidden.requires_grad
    np.testing.assert_array_equal(layer.edge_curvature, rf.layer_curvature(hidden.detach().numpy(), 5).edge_curvature)
    hidden.sum().backward()  # the graph is still usable
    assert X.grad is not None


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_torch_knn_backend_matches_cpu_kernels(metric):
    rng = np.random.default_rng(7)
    grid = np.array([(x, y) for x in range(6) for y in range(5)], dtype=np.float64) + 1
    cases = [rng.normal(size=(200, 30)), np.vstack([grid, grid[:7]]), rng.integers(0, 256, size=(50, 300)).astype(np.float32)]
    for X in cases:
        for k in (1, 4, 11):
            a = rf.knn_graph(X, k, metric=metric)
            b = rf.knn_graph(torch.tensor(X), k, metric=metric, backend="torch")
            np.testing.assert_array_equal(a.knn_indices, b.knn_indices)
            np.testing.assert_array_equal(a.indices, b.indices)
            np.testing.assert_allclose(a.knn_distances, b.knn_distances, rtol=1e-12, atol=1e-12)


def test_torch_backend_errors():
    with pytest.raises(ValueError, match="1 of 8 entries are NaN"):
        rf.knn_graph(torch.tensor([[0.0, 1], [float("nan"), 2], [3, 4], [5, 6]]), 1, backend="torch")
    with pytest.raises(ValueError, match="method='kdtree' runs on the CPU"):
        rf.knn_graph(torch.zeros(5, 2), 1, method="kdtree", backend="torch")


def test_float64_int_bool_and_list_probes_are_cast_to_the_model_dtype():
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.data[:80]  # float64, as scikit-learn gives it
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 2))
    acts = capture_activations(model, X)
    with torch.no_grad():
        expected = torch.relu(model[0](torch.tensor(X, dtype=torch.float32))).numpy()
    np.testing.assert_allclose(acts["1"], expected, rtol=1e-6, atol=1e-6)
    assert acts["input"].dtype == np.float64 and np.array_equal(acts["input"], X)
    for probe_points in (X.astype(np.int64), X > 4, X.tolist(), torch.tensor(X)):
        again = capture_activations(model, probe_points)
        assert again["1"].dtype == np.float32 and again["1"].shape == (80, 16)
    np.testing.assert_allclose(capture_activations(model, X.astype(np.int64))["input"], X.astype(np.int64))
    double = nn.Sequential(nn.Linear(64, 16), nn.ReLU()).double()
    assert capture_activations(double, X.astype(np.float32))["0" if False else "1"].dtype == np.float64
    with pytest.raises(TypeError, match="expected real numbers"):
        capture_activations(model, np.array([["a"] * 64] * 3))
    with pytest.raises(TypeError, match="complex"):
        capture_activations(model, np.ones((3, 64), complex))


def test_include_output_appends_the_model_output():
    model = mlp(1)
    X = probe()
    acts = capture_activations(model, X, include_output=True)
    assert list(acts) == ["input", "1", "3", "5", "output"]
    with torch.no_grad():
        np.testing.assert_allclose(acts["output"], model(torch.tensor(X)).numpy(), rtol=1e-6)
    sigmoid = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 1), nn.Sigmoid())
    with pytest.warns(UserWarning, match="the model's output is the output of captured layer '3'"):
        one_d = capture_activations(sigmoid, X, include_output=True, include_input=False)
    assert list(one_d) == ["1", "3", "output"] and one_d["output"].shape == (60, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hidden_only = capture_activations(sigmoid, X, layers=["1"], include_output=True)
    assert list(hidden_only) == ["input", "1", "output"]
    np.testing.assert_array_equal(hidden_only["output"], one_d["output"])

    class Named(nn.Module):
        def __init__(self):
            super().__init__()
            self.output = nn.Linear(2, 2)

        def forward(self, x):
            return self.output(x)

    with pytest.raises(ValueError, match="include_output=True names the model's output 'output'"):
        capture_activations(Named(), X, layers=["output"], include_output=True)


def test_flow_takes_the_dict_and_keeps_names():
    model = Nested()
    X = probe(n=80)
    acts = capture_activations(model, X, layers=["encoder.0", "encoder.1", "encoder.2", "head"])
    assert list(acts) == ["input", "encoder.0", "encoder.1", "encoder.2", "head"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flow = rf.ricci_flow(acts, k=6, progress=False)
        by_list = rf.ricci_flow(list(acts.values()), k=6, progress=False)
    assert flow.layer_names == tuple(acts)
    assert [layer.name for layer in flow.layers] == list(acts)
    assert flow.transition_names[-1] == "encoder.2->head"
    assert list(flow.to_pandas("layer").index) == list(acts)
    assert "node_eta[encoder.0->encoder.1]" in flow.to_pandas().columns
    assert "'encoder.2'" in repr(flow)
    np.testing.assert_array_equal(flow.local_coefficients, by_list.local_coefficients)


def test_monitor_checks_arguments_when_made():
    model = mlp()
    X = probe()
    cases = [
        ({"curvature": "formann"}, ValueError, "curvature='formann' is not supported"),
        ({"k": 0}, ValueError, "k must be a positive integer"),
        ({"k": 100}, ValueError, "k=100 is out of range for 60 points"),
        ({"k": 2.5}, TypeError, "k must be an integer"),
        ({"every": 0}, ValueError, "every must be a positive integer"),
        ({"layers": ["nope"]}, ValueError, "no modules named \\['nope'\\]"),
        ({"labels": np.zeros(59)}, ValueError, "one label per probe point"),
        ({"disconnected": "ignore"}, ValueError, "disconnected='ignore'"),
        ({"metric": "l1"}, ValueError, "metric='l1'"),
        ({"geodesic_sources": 1.5}, TypeError, "geodesic_sources"),
        ({"alpha": 0.5}, TypeError, "curvature='forman' takes no options"),
        ({"curvature": "ollivier", "alpha": 2}, ValueError, "alpha=2.0 is out of range"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
        ({"progress": 1}, TypeError, "progress must be True or False"),
        ({"colour": "red"}, TypeError, "unknown options \\['colour'\\]"),
    ]
    for options, error, match in cases:
        with pytest.raises(error, match=match):
            RicciFlowMonitor(model, X, **options)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        RicciFlowMonitor(lambda x: x, X)


def test_monitor_records_user_metrics_and_says_once_why():
    from ricci_fast.datasets import concentric_circles

    X, y = concentric_circles(300)  # disconnected at k=10: two rings
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),
                          nn.Linear(8, 2))
    monitor = RicciFlowMonitor(model, X, k=10, every=2, labels=y, disconnected="nan")
    with pytest.warns(UserWarning, match="RicciFlowMonitor, epoch 0: .*global coefficient is NaN"):
        monitor.step(0, loss=torch.tensor(0.7), accuracy=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same reason is not said again
        monitor.step(2, loss=0.6, accuracy=np.float32(0.75))
    monitor.step(3, loss=0.55)  # no flow at odd epochs, but the metric is kept
    history = monitor.history
    assert list(history.index) == [0, 2, 3]
    assert history["loss"].tolist() == pytest.approx([0.7, 0.6, 0.55])
    assert history["flow_computed"].tolist() == [True, True, False]
    assert np.isnan(history.loc[0, "global_coefficient"]) and "disconnected" in history.loc[0, "warnings"]
    with pytest.raises(ValueError, match="that column is the monitor's own"):
        monitor.step(4, global_coefficient=1.0)
    with pytest.raises(TypeError, match="metric 'loss': expected a real number"):
        monitor.step(4, loss="low")
    joined = RicciFlowMonitor(model, X, k=10, labels=y)  # default: join, so the coefficients are defined
    with pytest.warns(UserWarning, match="joined by their shortest edges"):
        flow = joined.step(0)
    assert np.isfinite(flow.global_coefficient) and joined.history.loc[0, "n_joined_edges"] >= 1
    assert "curvature_gap[input]" in joined.history.columns


def test_monitor_shows_no_progress_bar_by_default(capsys):
    model = mlp(2, width=6, depth=3)
    X = probe(n=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        RicciFlowMonitor(model, X, k=5).step(0)
        quiet = capsys.readouterr()
        RicciFlowMonitor(model, X, k=5, progress=True).step(0)
        loud = capsys.readouterr()
    assert "ricci_flow" not in quiet.err and "ricci_flow" in loud.err
