"""NIR in and out: a two-layer toy built with ``nir`` itself and quantized by hand, the
one-line refusals (naming the node), the CLI's import and export, and the export's values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nir
import numpy as np
import pytest

from plasticore.config import load_config
from plasticore.golden.train import load_weights
from plasticore.interchange.export import export_graph
from plasticore.interchange.graph import NirError, network_of
from plasticore.interchange.quantize import ImportOptions, quantize

DT = 1e-4


def toy_graph(**changes: Any) -> nir.NIRGraph:
    """Input(2) -> Affine -> LIF (beta 0.5) -> Linear -> IF -> Output(2)."""
    tau = DT / (1 - 0.5)
    nodes = {
        "in": nir.Input(input_type={"input": np.array([2])}),
        "fc1": nir.Affine(weight=np.array([[0.5, -0.25], [0.125, 0.5]]),
                          bias=np.array([0.1, 0.0])),
        "lif1": nir.LIF(tau=np.full(2, tau), r=np.full(2, tau / DT), v_leak=np.zeros(2),
                        v_threshold=np.ones(2), v_reset=np.zeros(2)),
        "fc2": nir.Linear(weight=np.array([[1.0, -0.5], [0.25, 0.5]])),
        "if2": nir.IF(r=np.full(2, 1 / DT), v_threshold=np.full(2, 0.75),
                      v_reset=np.zeros(2)),
        "out": nir.Output(output_type={"output": np.array([2])}),
    }
    nodes.update(changes)
    edges = [("in", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "if2"), ("if2", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def options(**changes: Any) -> ImportOptions:
    base: dict[str, Any] = {"dataset": "digits", "timesteps": 5, "encoder": "rate",
                            "weight_bits": 4, "reset": "zero", "dt": DT}
    return ImportOptions(**{**base, **changes})


def test_two_layer_toy_by_hand() -> None:
    """Layer 0: gain r dt / tau = 1; s_w = 0.5 / 7 = 1/14; w = rint(W.T * 14) =
    [[7, 2], [-3.5 -> -4 (half to even), 7]]; the lowest threshold 1.0 is 14 weight LSBs,
    so current_shift = ceil(log2(2048 / 14)) = 8 and the membrane LSB s_v = 1/3584;
    v_th = floor(1.0 * 3584) + 1 = 3585; bias rint(0.1 * 3584) = 358 in 10 signed bits;
    beta = 0.5 = 1 - 2**-1: shift leak 1; membrane: 4 * 3587 = 14348 needs 14 bits, + sign.
    Layer 1 (IF, gain r dt = 1): s_w = 1/7, w = rint(W.T * 7) = [[7, 1.75 -> 2],
    [-3.5 -> -4, 3.5 -> 4]]; 0.75 * 7 = 5.25 weight LSBs:
    shift ceil(log2(2048 / 5.25)) = 9, s_v = 1/3584 again; v_th = 2688 + 1; no leak."""
    imported = quantize(network_of(toy_graph(), DT), options())
    first, second = imported.config.network.cores
    assert imported.weights[0].tolist() == [[7, 2], [-4, 7]]
    assert imported.weights[1].tolist() == [[7, 2], [-4, 4]]
    assert imported.bias[0] is not None and imported.bias[0].tolist() == [358, 0]
    assert imported.bias[1] is None
    assert imported.theta[0].tolist() == [0, 0] and imported.theta[1].tolist() == [0, 0]
    assert (first.widths.weight, first.widths.weight_signed, first.widths.current_shift,
            first.widths.membrane, first.widths.bias) == (4, True, 8, 15, 10)
    assert (first.neuron.v_th, first.neuron.leak_mode, first.neuron.leak_shift,
            first.neuron.reset_mode, first.neuron.v_reset) == (3585, "shift", 1, "to_reset", 0)
    assert (second.widths.current_shift, second.widths.membrane, second.widths.bias) == (9, 15, 0)
    assert (second.neuron.v_th, second.neuron.leak_mode) == (2689, "none")
    assert (first.n_inputs, second.n_inputs, second.encoder.kind) == (2, 2, "direct")
    assert imported.config.network.rule.kind == "none"
    assert imported.config.classify.readout == "count"
    layer = imported.report["layers"][0]
    assert layer["weight_scale"] == pytest.approx(1 / 14)
    assert layer["membrane_lsb"] == pytest.approx(1 / 3584)
    assert layer["leak"]["mode"] == "shift" and layer["weights_clipped"] == 0


def test_reset_by_subtraction_is_snntorchs() -> None:
    """snnTorch subtracts the threshold one timestep late, after the leak: subtracting
    thr / beta at once.  Layer 0: 1.0 / 0.5 * 3584 = 7168; layer 1 (beta 1): 0.75 * 3584."""
    imported = quantize(network_of(toy_graph(), DT), options(reset="subtract"))
    first, second = imported.config.network.cores
    assert (first.neuron.reset_mode, first.neuron.reset_amount) == ("subtract", 7168)
    assert (second.neuron.reset_mode, second.neuron.reset_amount) == ("subtract", 2688)


def test_current_input_scales_by_the_pixel_range() -> None:
    """With current input the float input is pixel / 255: one input LSB is 1/255, so the
    lowest threshold is 14 * 255 = 3570 weight LSBs at shift 0 (no shift needed)."""
    imported = quantize(network_of(toy_graph(), DT), options(encoder="current"))
    first = imported.config.network.core(0)
    assert first.encoder.kind == "current" and first.widths.current_shift == 0
    assert first.neuron.v_th == 3570 + 1
    assert imported.bias[0] is not None and imported.bias[0].tolist() == [357, 0]   # 0.1*3570


@pytest.mark.parametrize("change, fragment", [
    ({"fc2": nir.Conv2d(input_shape=None, weight=np.ones((1, 1, 1, 1)), stride=1, padding=0,
                        dilation=1, groups=1, bias=np.zeros(1))},
     "node 'fc2' (Conv2d): not supported"),
    ({"lif1": nir.CubaLIF(tau_syn=np.full(2, 5e-3), tau_mem=np.full(2, 2e-4),
                          r=np.full(2, 2.0), v_leak=np.zeros(2), v_threshold=np.ones(2))},
     "node 'lif1' (CubaLIF): tau_syn = 0.005 s is longer than the timestep"),
    ({"lif1": nir.LIF(tau=np.array([2e-4, 3e-4]), r=np.full(2, 2.0), v_leak=np.zeros(2),
                      v_threshold=np.ones(2))},
     "node 'lif1' (LIF): tau varies across the layer's neurons"),
    ({"lif1": nir.LIF(tau=np.full(2, 5e-5), r=np.full(2, 0.5), v_leak=np.zeros(2),
                      v_threshold=np.ones(2))},
     "is shorter than the timestep"),
    ({"fc1": nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2))},
     "node 'fc1' (Affine): takes 3 inputs, but gets 2"),
    ({"fc1": nir.Affine(weight=np.array([[np.nan, 0], [0, 0]]), bias=np.zeros(2))},
     "weight holds a value that is not finite"),
])
def test_unrepresentable_nodes_are_named(change: dict[str, Any], fragment: str) -> None:
    with pytest.raises(NirError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        quantize(network_of(toy_graph(**change), DT), options())


def test_graph_shapes_that_are_not_a_chain() -> None:
    graph = toy_graph()
    recurrent = nir.NIRGraph(nodes=graph.nodes, edges=[*graph.edges, ("lif1", "fc1")],
                             type_check=False)
    with pytest.raises(NirError, match=r"node 'fc1' \(Affine\): has 2 inputs \['in', 'lif1'\]"):
        network_of(recurrent, DT)
    loop = nir.NIRGraph(nodes=graph.nodes,
                        edges=[("in", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "fc1")],
                        type_check=False)
    with pytest.raises(NirError, match=r"node 'fc1' \(Affine\): has 2 inputs \['in', 'fc2'\]"):
        network_of(loop, DT)
    back = nir.NIRGraph(nodes=graph.nodes,
                        edges=[("in", "fc1"), ("fc1", "lif1"), ("lif1", "in")], type_check=False)
    with pytest.raises(NirError, match="edge 'lif1' -> 'in': a recurrent edge"):
        network_of(back, DT)
    open_end = nir.NIRGraph(nodes=graph.nodes, edges=list(graph.edges)[:-1], type_check=False)
    with pytest.raises(NirError, match="node 'if2' \\(IF\\): leads nowhere"):
        network_of(open_end, DT)
    with pytest.raises(NirError, match="dt = 0"):
        network_of(graph, 0)


def test_a_tau_beyond_the_leak_precision_is_refused() -> None:
    """1 - beta = 1e-7 is 0.013 of one LSB of 17 fraction bits: it rounds to 0 or 1 LSB."""
    tau = DT / 1e-7
    lif = nir.LIF(tau=np.full(2, tau), r=np.full(2, tau / DT), v_leak=np.zeros(2),
                  v_threshold=np.ones(2))
    with pytest.raises(NirError, match="needs more leak precision than 17 fraction bits"):
        quantize(network_of(toy_graph(lif1=lif), DT), options())


def test_export_values_by_hand() -> None:
    """Export of the imported toy: weights in membrane LSBs (w * 2**current_shift), the
    threshold v_th + theta - 0.5 (NIR fires when v > v_threshold), tau = dt / (1 - beta)."""
    imported = quantize(network_of(toy_graph(), DT), options())
    graph, notes = export_graph(imported.config, imported.weights, imported.theta,
                                imported.bias, dt=DT)
    assert list(graph.nodes) == ["input", "fc0", "lif0", "fc1", "lif1", "output"]
    fc0, lif0, lif1 = graph.nodes["fc0"], graph.nodes["lif0"], graph.nodes["lif1"]
    assert isinstance(fc0, nir.Affine) and isinstance(graph.nodes["fc1"], nir.Linear)
    assert fc0.weight.tolist() == [[7 * 256, -4 * 256], [2 * 256, 7 * 256]]
    assert fc0.bias.tolist() == [358, 0]
    assert isinstance(lif0, nir.LIF) and isinstance(lif1, nir.IF)
    assert lif0.tau.tolist() == pytest.approx([2 * DT, 2 * DT])
    assert lif0.r.tolist() == pytest.approx([2.0, 2.0])
    assert lif0.v_threshold.tolist() == [3584.5, 3584.5]
    assert lif1.r.tolist() == pytest.approx([1 / DT, 1 / DT])
    assert any("leak rounds toward zero" in note for note in notes)
    # reading the export back gives the same integer network
    again = quantize(network_of(graph, DT), options())
    assert [w.tolist() for w in again.weights] == [w.tolist() for w in imported.weights]
    assert again.config.network == imported.config.network


def test_cli_import_eval_export(tmp_path: Path, cli: Any) -> None:
    """A 64-16-10 network built with nir: import writes a config and weights that load,
    eval runs it, export writes a file nir.read accepts; bad input is one line."""
    rng = np.random.default_rng(0)
    tau = DT / 0.1
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([64])}),
        "a": nir.Affine(weight=rng.normal(0, 0.3, (16, 64)), bias=rng.normal(0, 0.1, 16)),
        "b": nir.LIF(tau=np.full(16, tau), r=np.full(16, tau / DT), v_leak=np.zeros(16),
                     v_threshold=np.ones(16), v_reset=np.zeros(16)),
        "c": nir.Affine(weight=rng.normal(0, 0.3, (10, 16)), bias=np.zeros(10)),
        "d": nir.LIF(tau=np.full(10, tau), r=np.full(10, tau / DT), v_leak=np.zeros(10),
                     v_threshold=np.ones(10), v_reset=np.zeros(10)),
        "output": nir.Output(output_type={"output": np.array([10])}),
    }, edges=[("c", "d"), ("input", "a"), ("d", "output"), ("a", "b"), ("b", "c")])
    nir.write(str(tmp_path / "net.nir"), graph)
    result = cli("nir", "import", "net.nir", "--dataset", "digits", "--timesteps", "10",
                     "--out", "net.toml", "--weights-out", "w.npz", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [layer["neurons"] for layer in report["layers"]] == [16, 10]
    assert report["assumed"]["reset"] == "subtract" and report["assumed"]["dt_seconds"] == DT
    config = load_config(tmp_path / "net.toml")
    loaded = load_weights(tmp_path / "w.npz", config.network)
    assert "config_mismatch" not in loaded
    assert loaded["layers"][1]["weights"].shape == (16, 10)
    result = cli("eval", "net.toml", "--weights", "w.npz", "--test-samples", "50",
                     "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["test_samples"] == 50 and summary["readout"] == "count"
    assert len(summary["layer_spikes_per_sample"]) == 2
    result = cli("nir", "export", "net.toml", "--weights", "w.npz", "--out", "back.nir",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert set(nir.read(str(tmp_path / "back.nir")).nodes) == {
        "input", "fc0", "lif0", "fc1", "lif1", "output"}
    for args, fragment in [
        (["nir", "import", "missing.nir"], "no such NIR file"),
        (["nir", "import", "net.toml"], "not a NIR file"),
        (["nir", "import", "net.nir", "--dataset", "mnist-5k"],
         "the network takes 64 inputs, but mnist-5k images have 784 pixels"),
        (["nir", "import", "net.nir", "--weight-bits", "1"], "expected an integer in 2..16"),
    ]:
        full = [*args, "--timesteps", "5", "--out", "x.toml", "--weights-out", "x.npz"]
        if "--dataset" not in args:
            full += ["--dataset", "digits"]
        result = cli(*full, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.startswith("plasticore: error: ")
        assert fragment in result.stderr and result.stderr.count("\n") == 1
        assert not (tmp_path / "x.toml").exists()


@pytest.mark.parametrize("name, nir_name, dataset, encoder", [
    ("digits-mlp-snntorch", "digits-mlp", "digits", "current"),
    ("digits-mlp-rate", "digits-mlp-rate", "digits", "rate"),
    ("mnist-5k-mlp", "mnist-5k-mlp", "mnist-5k", "current")])
def test_shipped_configs_are_what_the_import_writes(name: str, nir_name: str, dataset: str,
                                                    encoder: str) -> None:
    """configs/NAME.toml is `plasticore nir import examples/nir/NIR_NAME.nir` (25 timesteps),
    so the weights a user imports fit it."""
    root = Path(__file__).resolve().parents[2]
    source = network_of(nir.read(str(root / "examples" / "nir" / f"{nir_name}.nir")), DT)
    imported = quantize(source, ImportOptions(dataset=dataset, timesteps=25, encoder=encoder))
    shipped = load_config(name)
    assert shipped.network == imported.config.network
    assert shipped.classify == imported.config.classify
    assert shipped.data == imported.config.data


def test_fast_mnist_config_is_the_import_on_other_hardware() -> None:
    """configs/mnist-5k-mlp-fast.toml runs the mnist-5k-mlp import's weights with the same
    numerics: it differs only in the RTL's shape (pixels per token, lanes, row banks), so the
    golden model gives the same spikes for both."""
    import dataclasses

    shipped, fast = load_config("mnist-5k-mlp"), load_config("mnist-5k-mlp-fast")
    assert fast.network.input.lanes == 8
    assert [(layer.n_pe, layer.row_banks) for layer in fast.network.layers] == [(8, 8), (5, 8)]
    slow = dataclasses.replace(
        fast.network, input=dataclasses.replace(fast.network.input, lanes=1),
        layers=tuple(dataclasses.replace(layer, n_pe=n_pe, row_banks=1)
                     for layer, n_pe in zip(fast.network.layers, (4, 2), strict=True)))
    assert slow == shipped.network
    assert (fast.classify, fast.data) == (shipped.classify, shipped.data)
    assert fast.board == shipped.board
