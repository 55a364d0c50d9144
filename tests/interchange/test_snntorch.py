"""The round trip with snnTorch itself (the optional ``snntorch`` extra; slow): snnTorch's
own NIR file imports within the accuracy goal, plasticore's float reference runs it as
torch does, and what plasticore exports loads and runs in snnTorch."""

from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.slow

snn = pytest.importorskip("snntorch", reason="the snntorch extra is not installed "
                                              "(README: networks trained elsewhere)")
torch = pytest.importorskip("torch", reason="the snntorch extra needs torch")

import nir  # noqa: E402

from plasticore.golden.datasets import load_dataset  # noqa: E402
from plasticore.golden.network import Network  # noqa: E402
from plasticore.interchange.export import export_graph  # noqa: E402
from plasticore.interchange.graph import network_of, read_graph  # noqa: E402
from plasticore.interchange.quantize import ImportOptions, quantize  # noqa: E402
from plasticore.interchange.reference import run_float  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DIGITS_MLP = ROOT / "examples" / "nir" / "digits-mlp.nir"


def snntorch_counts(graph: Any, inputs: Any, timesteps: int, trained_reset: bool) -> Any:
    """Output spike counts of ``graph`` as snnTorch's ``import_from_nir`` builds it, with
    snnTorch's trained reset (subtract, one timestep late) put back when asked."""
    from snntorch import utils as snn_utils
    from snntorch.import_nir import import_from_nir

    torch.set_num_threads(1)
    with contextlib.redirect_stdout(sys.stderr):
        net = import_from_nir(graph)
    if trained_reset:
        for m in net.modules():
            if isinstance(m, snn.Leaky):
                m.reset_mechanism = "subtract"
                m.state_function = m._base_sub
                m.reset_delay = True
    x = torch.as_tensor(inputs, dtype=torch.float32)
    with torch.no_grad():
        snn_utils.reset(net)
        counts = 0
        for _ in range(timesteps):
            y = net(x)
            counts = counts + (y[0] if isinstance(y, tuple) else y)
    return np.asarray(counts.numpy(), dtype=np.int64)


def test_snntorch_network_imports_within_the_goal() -> None:
    """snnTorch runs its own file: plasticore's float reference gives the same spike counts,
    and the 8-bit import is within 0.3 points of it (issue 16's goal)."""
    _, test = load_dataset("digits", None, 8)
    x = np.asarray(test.images, np.float32) / np.float32(255)
    graph = nir.read(str(DIGITS_MLP))
    torch_counts = snntorch_counts(graph, x, 25, trained_reset=True)
    source = network_of(read_graph(DIGITS_MLP), 1e-4)
    assert np.array_equal(run_float(source, x, 25), torch_counts)
    float_accuracy = float(np.mean(np.argmax(torch_counts, axis=1) == test.labels))
    imported = quantize(source, ImportOptions(dataset="digits", timesteps=25))
    net = Network(imported.config.network, weights=imported.weights, theta=imported.theta,
                  bias=imported.bias)
    counts = net.run_batch(test.images, np.arange(len(test)))
    accuracy = float(np.mean(np.argmax(counts, axis=1) == test.labels))
    assert abs(accuracy - float_accuracy) <= 0.003 + 1e-9


def test_plasticore_export_loads_in_snntorch(tmp_path: Path) -> None:
    """The export of the imported network, read by snnTorch: it loads, runs, and classifies
    like plasticore's integer network on most test images (NIR cannot carry the integer
    leak, nor snnTorch's reset rule: not bit for bit)."""
    _, test = load_dataset("digits", None, 8)
    source = network_of(read_graph(DIGITS_MLP), 1e-4)
    imported = quantize(source, ImportOptions(dataset="digits", timesteps=25))
    graph, _ = export_graph(imported.config, imported.weights, imported.theta, imported.bias)
    nir.write(str(tmp_path / "back.nir"), graph)
    x = np.asarray(test.images, np.float32) / np.float32(255)
    torch_counts = snntorch_counts(nir.read(str(tmp_path / "back.nir")), x, 25,
                                   trained_reset=True)
    net = Network(imported.config.network, weights=imported.weights, theta=imported.theta,
                  bias=imported.bias)
    ours = np.argmax(net.run_batch(test.images, np.arange(len(test))), axis=1)
    agree = float(np.mean(np.argmax(torch_counts, axis=1) == ours))
    assert agree >= 0.9, f"snnTorch and plasticore agree on {100 * agree:.1f} % only"


def test_plasticore_export_loads_in_norse(tmp_path: Path) -> None:
    """Norse reads the export written for it (``r = 1``, the gain in the synapses) of the
    imported digits network, at dt = 1e-4 s, and classifies 90 % or more of the test images
    as plasticore does (Norse resets to v_reset: not bit for bit)."""
    norse = pytest.importorskip("norse.torch", reason="the norse extra is not installed")
    _, test = load_dataset("digits", None, 8)
    source = network_of(read_graph(DIGITS_MLP), 1e-4)
    imported = quantize(source, ImportOptions(dataset="digits", timesteps=25))
    graph, _ = export_graph(imported.config, imported.weights, imported.theta, imported.bias,
                            convention="norse")
    nir.write(str(tmp_path / "back.nir"), graph)
    x = torch.as_tensor(np.asarray(test.images, np.float32) / 255)
    with warnings.catch_warnings(), torch.no_grad():
        # Norse 1.1 calls nirtorch's deprecated loader: its warning, not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        model = norse.from_nir(nir.read(str(tmp_path / "back.nir")), dt=1e-4)
        state = None
        total = 0
        for _ in range(25):
            out, state = model(x, state)
            total = total + out
    net = Network(imported.config.network, weights=imported.weights, theta=imported.theta,
                  bias=imported.bias)
    ours = np.argmax(net.run_batch(test.images, np.arange(len(test))), axis=1)
    agree = float(np.mean(np.argmax(total.numpy(), axis=1) == ours))
    assert agree >= 0.9, f"Norse and plasticore agree on {100 * agree:.1f} % only"
