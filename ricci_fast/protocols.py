"""The published studies' protocols as data (issue 12).

    from ricci_fast.protocols import BAPTISTA_2024, HEHL_2025
    HEHL_2025.k, HEHL_2025.curvature["local"], HEHL_2025.sources["layers"]

Each preset is a frozen `Protocol`: which layers enter the flow (input / hidden / output), the k values,
the curvature per statistic, probe size, network grid, training schedule and the well-trained
threshold, with the source of each setting (paper section or code file) in `sources`, and the numbers
the authors published in `published`.  `bench/reproduce.py --protocol baptista2024|hehl2025` runs one
end to end; `Protocol.scaled(...)` gives the reduced grids it runs by default.

Sources read for these presets: the authors' code, anthbapt/Ricci-NN (fMNIST_kNN_RCoef_eval.r,
fMNIST_DNN_training.r, training.py, knn.py) and Weber-GeoML/Ricci-Flow_Feature-Geometry
(neural_networks.py, helpers.py, datasets.py, ricci_coefficients.py, community_structure.py and the
notebooks in experiments/, whose stored outputs hold the numbers in `published`); and the papers'
abstracts (Baptista et al. 2024, arXiv 2404.14265, Sci. Rep. 14:23383; Hehl, von Renesse and Weber
2025, arXiv 2509.22362).  Settings whose source is the paper text alone say "paper" and were not
checked against code.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType


def _frozen(mapping):
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Protocol:
    """A study's protocol.  Layers: include_input / include_hidden / include_output say which
    activations enter the flow, in that order (hidden = each hidden layer after its nonlinearity;
    output = the network's 1-unit sigmoid output).  curvature maps a statistic ("global", "layer",
    "local", "local_untrained") to the curvature kind used for it.  Training: optimiser, learning rate,
    batch size (None: full batch), epochs (max_epochs for train-to-threshold schedules),
    stop_at_train_accuracy (None: fixed epochs).  well_trained: networks with test accuracy >
    well_trained enter the pooled statistic (None: all).  sources: setting -> where it comes from."""

    name: str
    citation: str
    code: str
    include_input: bool
    include_hidden: bool
    include_output: bool
    k: tuple
    curvature: MappingProxyType
    statistic: str
    probe_size: int
    train_size: int | None
    datasets: tuple
    widths: tuple
    depths: tuple
    networks_per_architecture: int
    optimizer: str
    learning_rate: float
    batch_size: int | None
    epochs: int
    stop_at_train_accuracy: float | None
    well_trained: float | None
    loss: str = "binary_cross_entropy"
    output_units: int = 1
    sources: MappingProxyType = field(default_factory=lambda: _frozen({}), repr=False, compare=False)
    published: MappingProxyType = field(default_factory=lambda: _frozen({}), repr=False, compare=False)

    @property
    def layers(self) -> tuple:
        """The layer selection as names, in flow order."""
        return tuple(name for name, on in (("input", self.include_input), ("hidden", self.include_hidden),
                                           ("output", self.include_output)) if on)

    def scaled(self, **changes) -> "Protocol":
        """A copy with some settings changed (a reduced grid, fewer epochs, ...); sources kept, and the
        changed settings marked "reduced here"."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"Protocol has no settings {sorted(unknown)}.")
        sources = dict(self.sources)
        for key in changes:
            if key not in ("sources", "published", "name"):
                sources[key] = f"reduced here (published: {getattr(self, key)!r}; {self.sources.get(key, 'n/a')})"
        return dataclasses.replace(self, sources=_frozen(sources), **changes)

    def describe(self) -> str:
        """A markdown table of the settings and their sources."""
        rows = ["| setting | value | source |", "|---|---|---|"]
        for f in dataclasses.fields(self):
            if f.name in ("sources", "published"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, MappingProxyType):
                value = dict(value)
            rows.append(f"| {f.name} | {value} | {self.sources.get(f.name, '')} |")
        return "\n".join(rows)


BAPTISTA_2024 = Protocol(
    name="baptista2024",
    citation="Baptista, Barp, Chakraborti, Harbron, MacArthur, Banerji (2024), Deep learning as Ricci flow, "
             "Sci. Rep. 14:23383, arXiv 2404.14265",
    code="https://github.com/anthbapt/Ricci-NN",
    include_input=False,
    include_hidden=True,
    include_output=False,
    k=(30, 120, 300),
    curvature=_frozen({"global": "forman"}),
    statistic="pooled_global",
    probe_size=2000,
    train_size=None,
    datasets=("spiral_shell", "ellipsoids_cube", "sinusoidal_sheets", "fmnist-sandal-boot"),
    widths=(25, 50),
    depths=(5,),
    networks_per_architecture=5,
    optimizer="rmsprop",
    learning_rate=1e-3,
    batch_size=32,
    epochs=50,
    stop_at_train_accuracy=None,
    well_trained=0.98,
    sources=_frozen({
        "include_input": "fMNIST_kNN_RCoef_eval.r: the input graph g0 enters only the first geodesic change, which "
                         "the shifted correlation drops (msc$layer != 1)",
        "include_hidden": "fMNIST_kNN_RCoef_eval.r: kNN graphs of activations 1..length-1 (the hidden layers)",
        "include_output": "fMNIST_kNN_RCoef_eval.r: the last activation (the sigmoid output) is left out",
        "k": "fMNIST_kNN_RCoef_eval.r: k_list <- c(30, 120, 300) (knn.py: k = 30)",
        "curvature": "fMNIST_kNN_RCoef_eval.r: Forman 4 - deg x - deg y summed per node (a constant factor 2 "
                     "on the total, which no correlation sees).  Deviation: their igraph degree() of the "
                     "directed nng() graph counts in- plus out-degree and sums over out-neighbours only; "
                     "ricci_fast uses the symmetrised (union) graph of docs/definitions.md",
        "statistic": "fMNIST_kNN_RCoef_eval.r: one cor.test over (model, layer) totals of all models with accuracy "
                     "> a, geodesic change l-1 -> l against the Forman curvature of l-1",
        "probe_size": "fMNIST_kNN_RCoef_eval.r: x_test, the 2000 Fashion-MNIST test images of classes 5 and 9",
        "datasets": "paper: three synthetic sets and Fashion-MNIST sandal/boot (synthetic generators are not in the "
                    "code repository; ricci_fast.datasets has our versions)",
        "widths": "fMNIST_DNN_training.r / training.py: width 50 (the evaluation script loads width 25); "
                  "paper: a grid of widths and depths",
        "depths": "fMNIST_DNN_training.r: 5 hidden Dense(relu) layers",
        "networks_per_architecture": "fMNIST_DNN_training.r: b <- 5 (training.py: b = 3)",
        "optimizer": "fMNIST_DNN_training.r / training.py: optimizer_rmsprop(), Keras defaults (lr 0.001)",
        "batch_size": "fMNIST_DNN_training.r: batch_size = 32, validation_split = 0.2",
        "epochs": "fMNIST_DNN_training.r: epochs = 50",
        "well_trained": "fMNIST_kNN_RCoef_eval.r / knn.py: a <- 0.98, models with test accuracy > a",
        "loss": "fMNIST_DNN_training.r: binary_crossentropy with a 1-unit sigmoid output",
    }),
    published=_frozen({
        "note": "The code repository stores no result tables; the paper reports the pooled coefficient per k "
                "and architecture in its figures (not read here), and its abstract the claim that the "
                "strength of Ricci-flow-like behaviour (more negative pooled coefficient) correlates with "
                "accuracy for well-trained networks.",
    }),
)


HEHL_2025 = Protocol(
    name="hehl2025",
    citation="Hehl, von Renesse, Weber (2025), Neural feature geometry evolves as discrete Ricci flow, "
             "arXiv 2509.22362",
    code="https://github.com/Weber-GeoML/Ricci-Flow_Feature-Geometry",
    include_input=True,
    include_hidden=True,
    include_output=True,
    k=(50,),
    curvature=_frozen({"global": "forman", "local": "augmented_forman", "layer": "approx_ollivier",
                       "local_untrained": "ollivier", "early_stopping": "approx_ollivier"}),
    statistic="mean_local",
    probe_size=1000,
    train_size=1000,
    datasets=("syn1", "syn2", "syn3", "syn4"),
    widths=(15, 25, 50),
    depths=(7, 10, 15),
    networks_per_architecture=3,
    optimizer="adam",
    learning_rate=1e-3,
    batch_size=None,
    epochs=20000,
    stop_at_train_accuracy=0.99,
    well_trained=None,
    sources=_frozen({
        "include_input": "neural_networks.py DNN.features: the (flattened) input first",
        "include_hidden": "neural_networks.py DNN.features: each hidden Linear after its activation (ReLU)",
        "include_output": "neural_networks.py DNN.features: the sigmoid of the 1-unit output layer last",
        "k": "experiments/*.ipynb: Ricci_Coefficients(model, X_test, 50)",
        "curvature": "local_ricci_coefficients.ipynb section 2 (tables): Augmented-Forman-Ricci; section 3.1: "
                     "Ollivier-Ricci; layer_ricci_coefficient.ipynb and overfitting.ipynb: Approx-Ollivier-Ricci; "
                     "untrained_networks.ipynb: global (Forman, as ricci_coefficients.py) and local Ollivier-Ricci",
        "statistic": "local_ricci_coefficients.ipynb: nanmean of the local coefficients per network, mean/std over "
                     "3 networks, share of negative local coefficients (paper section 4.1)",
        "probe_size": "datasets.py: a second, independent sample of n = 1000 (synthetic); 500 test images per "
                      "class (real data)",
        "train_size": "datasets.py: n = 1000 for the synthetic sets",
        "datasets": "paper section 4 / datasets.py: Syn-I make_circles(noise=0.03), Syn-II make_4circles, "
                    "Syn-III make_cylinders, Syn-IV make_tori (and MNIST, Fashion-MNIST, CIFAR pairs)",
        "widths": "local_ricci_coefficients.ipynb: widths = [15, 25, 50]",
        "depths": "local_ricci_coefficients.ipynb: depths = [7, 10, 15] (layer_ricci_coefficient.ipynb: 6..16, "
                  "width 25)",
        "networks_per_architecture": "local_ricci_coefficients.ipynb: num_iterations = 3",
        "optimizer": "helpers.py train_model: torch.optim.Adam(lr=0.001)",
        "batch_size": "helpers.py train_model: full-batch steps on all of X_train",
        "epochs": "helpers.py train_model: max_epochs=20000",
        "stop_at_train_accuracy": "helpers.py train_model / notebooks: threshold_accuracy=99 (train accuracy, %)",
        "loss": "helpers.py: BCEWithLogitsLoss on the 1-unit output",
    }),
    published=_frozen({
        # experiments/local_ricci_coefficients.ipynb stored outputs: mean over 3 networks of the mean local
        # coefficient (augmented Forman, k = 50), keyed by (width, depth)
        "mean_local": _frozen({
            "syn1": _frozen({(15, 7): -0.392, (15, 10): -0.470, (15, 15): -0.621, (25, 7): -0.412, (25, 10): -0.529,
                             (25, 15): -0.662, (50, 7): -0.370, (50, 10): -0.563, (50, 15): -0.703}),
            "syn2": _frozen({(15, 7): -0.380, (15, 10): -0.435, (15, 15): -0.486, (25, 7): -0.393, (25, 10): -0.447,
                             (25, 15): -0.476, (50, 7): -0.517, (50, 10): -0.484, (50, 15): -0.490}),
            "syn3": _frozen({(15, 7): -0.597, (15, 10): -0.701, (15, 15): -0.787, (25, 7): -0.651, (25, 10): -0.772,
                             (25, 15): -0.694, (50, 7): -0.636, (50, 10): -0.757, (50, 15): -0.792}),
            "syn4": _frozen({(15, 7): -0.438, (15, 10): -0.335, (15, 15): -0.657, (25, 7): -0.339, (25, 10): -0.408,
                             (25, 15): -0.599, (50, 7): -0.231, (50, 10): -0.365, (50, 15): -0.669}),
        }),
        "negative_local_share": _frozen({
            "syn1": _frozen({(15, 7): 0.882, (25, 7): 0.888, (50, 7): 0.816, (25, 10): 0.923}),
            "syn2": _frozen({(15, 7): 0.847, (25, 7): 0.854, (50, 7): 0.942, (25, 10): 0.957}),
            "syn3": _frozen({(15, 7): 0.969, (25, 7): 0.990, (50, 7): 0.984, (25, 10): 0.999}),
            "syn4": _frozen({(15, 7): 0.872, (25, 7): 0.791, (50, 7): 0.691, (25, 10): 0.863}),
        }),
        # experiments/untrained_networks.ipynb stored outputs: 10 untrained DNN(width 25, depth 10), k = 50,
        # fresh default samples (Syn-I noise 0.05): global coefficient (Forman) and mean local (Ollivier)
        "untrained_global_mean": _frozen({"syn1": -0.358, "syn2": -0.330, "syn3": -0.255, "syn4": -0.295}),
        "untrained_global_negative": _frozen({"syn1": 0.8, "syn2": 1.0, "syn3": 1.0, "syn4": 0.9}),
        "untrained_local_mean": _frozen({"syn1": -0.047, "syn2": -0.008, "syn3": -0.004, "syn4": -0.056}),
    }),
)

#: name -> preset, for bench/reproduce.py --protocol
PROTOCOLS = {BAPTISTA_2024.name: BAPTISTA_2024, HEHL_2025.name: HEHL_2025}


def get_protocol(name) -> Protocol:
    """A preset by name ("baptista2024", "hehl2025") or the Protocol itself."""
    if isinstance(name, Protocol):
        return name
    try:
        return PROTOCOLS[str(name).lower().replace("_", "").replace("-", "")]
    except KeyError:
        raise ValueError(f"protocol: unknown {name!r}; choose from {sorted(PROTOCOLS)}.") from None


def select_layers(activations, protocol: Protocol, output=None):
    """The layers a protocol's flow uses, from capture_activations(model, X, include_input=True) output
    (an ordered dict "input", hidden layers...) and, if the protocol wants it, the network's output
    activation (`output`, e.g. sigmoid(model(X)); or already in activations under "output").
    Returns an ordered dict."""
    from collections import OrderedDict

    items = list(activations.items())
    chosen = OrderedDict()
    if protocol.include_input:
        if not items or items[0][0] != "input":
            raise ValueError("activations: the protocol uses the input layer; capture with include_input=True.")
        chosen["input"] = items[0][1]
    hidden = [(name, acts) for name, acts in items if name not in ("input", "output")]
    if protocol.include_hidden:
        chosen.update(hidden)
    if protocol.include_output:
        if output is None and "output" in activations:
            output = activations["output"]
        if output is None:
            raise ValueError("the protocol uses the output layer: pass output= (the network's output activation) "
                             "or capture with include_output=True.")
        chosen["output"] = output
    return chosen


__all__ = ["BAPTISTA_2024", "HEHL_2025", "PROTOCOLS", "Protocol", "get_protocol", "select_layers"]
