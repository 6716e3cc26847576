"""`ricci-fast demo`: train a small ReLU MLP on a built-in data set and show the Ricci flow of its layers.

With PyTorch installed the network is a torch nn.Sequential, its layers are captured with forward hooks
(ricci_fast.torch) and a RicciFlowMonitor records the coefficients during training; without it the
network is scikit-learn's MLPClassifier and its hidden activations are recomputed from the weights.
"""

from __future__ import annotations

import os
import time

import numpy as np

WIDTH = 20
DEPTH = 6


def mlp_activations(model, X) -> list[np.ndarray]:
    """[input, hidden 1, ..., hidden L] of a fitted ReLU sklearn MLPClassifier."""
    layers = [np.asarray(X, dtype=np.float64)]
    h = layers[0]
    for W, b in zip(model.coefs_[:-1], model.intercepts_[:-1]):
        h = np.maximum(h @ W + b, 0.0)
        layers.append(h)
    return layers


def _train_torch(X_train, y_train, X_probe, y_probe, seed, k, epochs=300):
    import torch
    from torch import nn

    from ricci_fast.torch import RicciFlowMonitor

    torch.manual_seed(seed)
    blocks, width_in = [], X_train.shape[1]
    for _ in range(DEPTH):
        blocks += [nn.Linear(width_in, WIDTH), nn.ReLU()]
        width_in = WIDTH
    model = nn.Sequential(*blocks, nn.Linear(width_in, 2))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    Xt, yt = torch.tensor(X_train), torch.tensor(y_train)
    monitor = RicciFlowMonitor(model, X_probe, k=k, every=50, labels=y_probe)
    for epoch in range(epochs + 1):
        monitor.step(epoch)
        if epoch == epochs:
            break
        loss = nn.functional.cross_entropy(model(Xt), yt)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        accuracy = float((model(torch.tensor(X_probe)).argmax(1).numpy() == y_probe).mean())
    return accuracy, monitor


def run_demo(out: str | None = "ricci_fast_demo.png", n_points: int = 1000, seed: int = 0, k: int = 30,
             progress: bool = True, backend: str = "auto"):
    """Train, capture, compute the flow, print it and (with matplotlib) write the figure to `out`.

    The figure (ricci_fast.plotting.plot_demo) is the only file written, at `out` (its folder is made
    if missing); out=None writes nothing.  With PyTorch its last row shows the RicciFlowMonitor's
    coefficients during training.  backend: "torch", "sklearn" or "auto" (torch when installed).
    The quantities are defined in docs/definitions.md."""
    from ricci_fast.datasets import concentric_circles
    from ricci_fast.flow import ricci_flow

    if backend == "auto":
        try:
            import torch  # noqa: F401

            backend = "torch"
        except ImportError:
            backend = "sklearn"
    X, y = concentric_circles(n_points * 2, noise=0.2, seed=seed)
    X_train, y_train, X_probe, y_probe = X[:n_points], y[:n_points], X[n_points:], y[n_points:]
    start = time.perf_counter()
    monitor = None
    if backend == "torch":
        accuracy, monitor = _train_torch(X_train, y_train, X_probe, y_probe, seed, k)
        flow = monitor.last_flow
        what = "PyTorch"
    else:
        try:
            from sklearn.neural_network import MLPClassifier
        except ImportError:
            raise ImportError("the demo needs scikit-learn or PyTorch: pip install 'ricci_fast[demo]'.") from None
        model = MLPClassifier(hidden_layer_sizes=(WIDTH,) * DEPTH, activation="relu", max_iter=800, random_state=seed)
        model.fit(X_train, y_train)
        accuracy = model.score(X_probe, y_probe)
        flow = ricci_flow(mlp_activations(model, X_probe), k, curvature="forman", progress=progress)
        what = "scikit-learn"
    elapsed = time.perf_counter() - start
    print(f"{what}: trained a {DEPTH}x{WIDTH} ReLU MLP on two noisy concentric circles and computed the Ricci "
          f"flow of its {flow.n_layers} layers x {n_points} probe points (k={k}) in {elapsed:.1f} s; "
          f"probe accuracy {accuracy:.3f}\n")
    print(flow)
    print()
    print(flow.to_pandas("layer").to_string(float_format=lambda v: f"{v:.4g}"))
    if monitor is not None:
        print("\nduring training (RicciFlowMonitor, every 50 epochs):")
        columns = ["global_coefficient", "mean_local_coefficient", "negative_local_share"]
        print(monitor.history[columns].to_string(float_format=lambda v: f"{v:.3f}"))
    if out:
        try:
            from ricci_fast.plotting import plot_demo
        except ImportError:  # pragma: no cover - matplotlib is in the demo extra
            print("matplotlib is not installed: no figure written")
        else:
            folder = os.path.dirname(os.path.abspath(out))
            os.makedirs(folder, exist_ok=True)
            # one file, the one --out names: the training history is a row of the same figure
            plot_demo(flow, None if monitor is None else monitor.history, out,
                      title=f"{DEPTH}x{WIDTH} ReLU MLP on concentric circles (probe accuracy {accuracy:.2f}): "
                            f"global Ricci coefficient {flow.global_coefficient:.3f}")
            print(f"\nfigure written to {out}")
    return flow
