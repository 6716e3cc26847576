"""Reading a network's layers from disk, and writing result tables so that a reader never sees half a file.

Layers come from
- an .npz: its arrays in file order (np.savez keeps the order it was given, positional or keyword);
- a folder of .npy files: in natural order of their names (layer2 before layer10), refused when the names
  do not order unambiguously;
- a single .npy file: one layer.
A labels array (`labels=NAME`: an array of the .npz, or NAME.npy in the folder) is taken out of the layers;
`layers=[names]` (or "a,b,c") selects layers and gives their order.
"""

from __future__ import annotations

import os
import zipfile
import re
import stat
import tempfile

import numpy as np

#: Output formats the result tables can be written in.
TABLE_FORMATS = (".csv", ".parquet")

_NUMBER = re.compile(r"(\d+)")


def _check_regular(path: str) -> None:
    # np.load on a FIFO or a device blocks forever: refuse anything that is not a plain file
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a plain file"
        raise ValueError(f"{path} is {kind}; layers are read from .npz/.npy files or a folder of .npy files.")


def natural_order(names: list[str]) -> list[str]:
    """`names` sorted by the numbers in them (layer2 before layer10; block1_conv2 before block1_conv10).

    Raises ValueError, listing the names, unless every name holds the same count (>= 1) of numbers and no
    two names hold the same numbers: then the numbers alone give the order, whatever text surrounds them.
    One name needs no numbering."""
    if len(names) <= 1:
        return list(names)
    numbers = {name: tuple(int(n) for n in _NUMBER.findall(name)) for name in names}
    counts = {len(v) for v in numbers.values()}
    listing = ", ".join(sorted(names))
    hint = "name the layers with one numbering (layer0, layer1, ..., layer10) or give the order with --layers / layers=[...]"
    if counts == {0}:
        raise ValueError(f"layer names hold no numbers to order them by ({listing}); {hint}.")
    if len(counts) > 1:
        unnumbered = sorted(n for n, v in numbers.items() if not v)
        detail = f"{', '.join(unnumbered)} hold no number" if unnumbered else "they hold different counts of numbers"
        raise ValueError(f"layer names mix numbering schemes ({listing}: {detail}); {hint}.")
    seen: dict[tuple, str] = {}
    for name, key in numbers.items():
        if key in seen:
            raise ValueError(f"layer names {seen[key]!r} and {name!r} have the same numbers {key}, so their order "
                             f"is ambiguous (all names: {listing}); {hint}.")
        seen[key] = name
    return sorted(names, key=lambda n: numbers[n])


def _split_names(layers) -> list[str] | None:
    if layers is None:
        return None
    if isinstance(layers, str):
        names = [part.strip() for part in layers.split(",")]
    else:
        try:
            names = [str(part).strip() for part in layers]
        except TypeError:
            raise TypeError(f"layers: give layer names as a list or a comma-separated string, got {layers!r}.") from None
    if not names or any(not n for n in names):
        raise ValueError(f"layers: empty layer name in {layers!r}.")
    if len(set(names)) != len(names):
        raise ValueError(f"layers: each layer may be selected once, got {layers!r}.")
    return names


def _load(path):
    """np.load without pickles, with errors that say what the file is (numpy's own message for a file
    that is not .npy/.npz talks about pickled data, and a truncated archive raises BadZipFile)."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable .npy or .npz file ({type(exc).__name__}: {exc}); layers must be "
                         f"saved with np.save / np.savez.") from None
    except ValueError as exc:
        if "pickle" in str(exc):
            raise ValueError(f"{path}: not an .npy or .npz file of numeric arrays (numpy reads it as pickled "
                             f"objects, which are not loaded); save the layers with np.save / np.savez.") from None
        raise ValueError(f"{path}: {exc}") from None


def read_layers(path, *, labels: str | None = None, layers=None) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """({name: array} in layer order, labels array or None) from an .npz, a folder of .npy files or one
    .npy file (see the module docstring).  Names are the .npz array names or the .npy file stems.

    labels: the name of the labels array, excluded from the layers.  layers: names (list, or a
    comma-separated string) to select, in the order given; without it a folder is read in natural
    order and refused when its names do not order unambiguously."""
    path = os.fspath(path)
    wanted = _split_names(layers)
    if labels is not None and (not isinstance(labels, str) or not labels):
        raise TypeError(f"labels: give the name of the labels array as a string, got {labels!r}.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file or folder: {path}")
    if os.path.isdir(path):
        files = {f[:-4]: os.path.join(path, f) for f in os.listdir(path) if f.endswith(".npy")}
        if not files:
            raise FileNotFoundError(f"{path} holds no .npy files")
        available = list(files)
        loader = lambda name: _load(files[name])  # noqa: E731
        for name in files.values():
            _check_regular(name)
        where = f"the folder {path}"
        natural = True
    else:
        _check_regular(path)
        if path.endswith(".npy"):
            stem = os.path.splitext(os.path.basename(path))[0]
            array = _load(path)
            store = {stem: array}
        else:
            data = _load(path)
            if isinstance(data, np.ndarray):  # an .npy under another extension
                store = {os.path.splitext(os.path.basename(path))[0]: data}
            else:
                try:
                    with data:
                        store = {name: data[name] for name in data.files}
                except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
                    raise ValueError(f"{path}: a damaged .npz archive ({type(exc).__name__}: {exc}); save it again "
                                     f"with np.savez.") from None
        available = list(store)
        loader = store.__getitem__
        where = path
        natural = False
    label_array = None
    if labels is not None:
        if labels not in available:
            raise ValueError(f"labels: {where} has no array {labels!r} (it has {', '.join(available)}).")
        label_array = np.asarray(loader(labels))
        available = [n for n in available if n != labels]
    if wanted is not None:
        missing = [n for n in wanted if n not in available]
        if missing:
            raise ValueError(f"layers: {where} has no layer {', '.join(map(repr, missing))} "
                             f"(it has {', '.join(available) or 'none besides the labels'}).")
        order = wanted
    else:
        if not available:
            raise ValueError(f"{where} holds no layers besides the labels {labels!r}.")
        order = natural_order(available) if natural else available
    named = {name: loader(name) for name in order}
    for name, array in named.items():
        if getattr(array, "ndim", None) == 1:
            # the usual cause: the class labels saved beside the layers
            raise ValueError(f"{where}: {name!r} is 1-D ({array.shape[0]} values), not a layer of shape (points, "
                             f"features). If it holds the class labels, name it as the labels (--labels {name} on "
                             f"the command line, a 'labels' column in a flow_many manifest); to select layers, "
                             f"use --layers.")
    return named, label_array


def load_layers(path) -> list[np.ndarray]:
    """The layers of `path` as a list, in the order read_layers gives them."""
    return list(read_layers(path)[0].values())


def check_enough_layers(named: dict, where, minimum: int = 2) -> None:
    """A flow needs at least two layers: say so naming the file, before any work."""
    if len(named) < minimum:
        raise ValueError(
            f"{os.fspath(where)} gives {len(named)} layer{'s' if len(named) != 1 else ''} "
            f"({', '.join(named) or 'none'}); a flow needs at least {minimum} (4 for the global coefficient): "
            f"save the layers as an .npz or a folder of .npy files."
        )


def flow_layers(named: dict):
    """What to hand ricci_flow: the {name: array} mapping itself once ricci_flow takes named layers
    (RicciFlow.layer_names exists), else the arrays in order."""
    from ricci_fast.flow import RicciFlow

    return named if hasattr(RicciFlow, "layer_names") else list(named.values())


def check_table_path(path, what: str = "out") -> str:
    """Check a result table's path before any work: a known format, the engine it needs installed, and
    its folder (created when missing).  Returns the path as a str."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in TABLE_FORMATS:
        raise ValueError(f"{what}: write tables as .csv or .parquet, got {path!r}.")
    if ext == ".parquet":
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise ImportError(f'{what}: writing {path} needs pyarrow: pip install ".[parquet]" (from a checkout of '
                              f"ricci_fast), or write a .csv instead.")
    ensure_parent(path)
    return path


def ensure_parent(path) -> None:
    """Create the folder a file is going into (a missing folder is created, never an error after the work)."""
    parent = os.path.dirname(os.path.abspath(os.fspath(path)))
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise ValueError(f"{path}: {parent} is a file, not a folder.")
    os.makedirs(parent, exist_ok=True)


def atomic_write(path, write) -> None:
    """write(tmp_path) into a temporary file beside `path`, fsync it, then rename it over `path`: a reader
    (or a crash at any moment) sees the old file or the new one, never part of one."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=os.path.splitext(path)[1], dir=folder)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp makes the file owner-only; the result must get the permissions any other file written
        # here would get (an existing file keeps its own)
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with _suppress():
            os.remove(tmp)
        raise
    with _suppress():
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux), since os.umask
    can only be read by setting it, which races with other threads creating files."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], OSError)


def write_table(frame, path, *, index: bool = True) -> None:
    """A DataFrame to .csv or .parquet, atomically.  Object columns that mix types (ints and strs) are
    written as strings, which both formats can hold."""
    path = os.fspath(path)
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            kinds = {type(v) for v in frame[column] if v is not None and not (isinstance(v, float) and np.isnan(v))}
            if len(kinds) > 1 and not kinds <= {list}:
                frame[column] = [None if v is None else str(v) for v in frame[column]]
    if path.lower().endswith(".parquet"):
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=index))
    else:
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=index))
