"""Networks of several layers through the host link: the fake board (``FakeBoard``), the host
driver, ``plasticore board run``, and the simulated board (``LinkedCore`` around
``NetworkCore``).

Expected values come from the golden model (``Network`` of the whole network) and from the
supervised readout's definition, the argmax of the last layer's counts (``np.argmax``: ties
to the lowest class); the protocol's byte layout is written out by hand.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from plasticore.boards import board_sim
from plasticore.boards.fakeboard import FakeBoard
from plasticore.boards.host import BoardLink, LinkError, Transport, run_test_set
from plasticore.boards.protocol import (
    Command,
    Geometry,
    Identity,
    LayerGeometry,
    Status,
    Target,
    board_votes,
    identify_payload,
    request,
    selector,
)
from plasticore.config import (
    ClassifyConfig,
    Config,
    LayerConfig,
    NetworkConfig,
    RuleConfig,
    load_config,
)
from plasticore.golden.datasets import load_dataset
from plasticore.golden.network import Network
from plasticore.sim.matrix import scaled_core

Array = Any
ROOT = Path(__file__).resolve().parents[2]


def two_layers(readout: str = "count") -> Config:
    """16 rate-coded inputs -> 8 neurons (2 lanes) -> 4 neurons (2 lanes), 8-bit signed
    weights, a 6-bit bias per neuron, the multiply leak and a reset by subtraction: a small
    network trained elsewhere, whose output neuron ``c`` is class ``c`` of 4."""
    core = scaled_core(8, 16, timesteps=10, learn=False, n_inputs=16, n_neurons=8, seed=3)
    core = core.replace(**{"neuron.v_th": 400, "neuron.theta_plus": 0, "neuron.w_inh": 0,
                           "neuron.v_rest": 0, "neuron.v_reset": 0, "neuron.t_ref": 0})
    one = NetworkConfig.from_core(core)     # the run and the input; the layers below
    core = core.replace(**{"widths.weight_signed": True, "widths.bias": 6,
                           "neuron.leak_mode": "multiply", "neuron.reset_mode": "subtract",
                           "neuron.reset_amount": 400})
    layers = tuple(LayerConfig(n_neurons=n, n_pe=2, row_banks=1, widths=core.widths,
                               neuron=core.neuron) for n in (8, 4))
    network = dataclasses.replace(one, layers=layers, rule=RuleConfig(kind="none"))
    return Config.from_network(network, classify=ClassifyConfig(readout=readout, n_classes=4),
                               source="two-layers")


def parameters(config: Config, seed: int = 0) -> tuple[list[Array], list[Array], list[Array]]:
    """Random signed weights biased upwards (so layer 1 fires), zero thresholds and random
    biases over the whole bias range, per layer."""
    rng = np.random.default_rng(seed)
    weights, theta, bias = [], [], []
    for core in config.network.cores:
        d = core.derived
        weights.append(rng.integers(-60, 128, size=(core.n_inputs, core.n_neurons)))
        theta.append(np.zeros(core.n_neurons, np.int64))
        bias.append(rng.integers(d.bias_min, d.bias_max + 1, size=core.n_neurons))
    return weights, theta, bias


class Direct(Transport):
    """A transport straight into a :class:`FakeBoard` (no terminal)."""

    def __init__(self, board: FakeBoard) -> None:
        self.board = board
        self.pending = b""

    def write(self, data: bytes) -> None:
        self.pending += b"".join(self.board.replies(data))

    def read(self, n: int, timeout: float) -> bytes:
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def discard(self) -> None:
        self.pending = b""


def test_geometry_and_identity_of_two_layers():
    """Every layer's memories by target byte (layer in bits 2-7), sizes worked out by hand,
    and the identity's layer table."""
    config = two_layers()
    g = Geometry.of(config)
    # layer 0: 16 inputs x 4 words of 2 lanes x 8 bits; theta 4 words of 2 x theta bits;
    # bias 4 words of 2 x 6 bits; layer 1: 8 x 2 words; votes 4 classes x 4 neurons
    theta_bits = config.network.cores[0].widths.theta
    assert {k: (m.bits, m.depth) for k, m in g.memories.items()} == {
        0: (16, 64), 1: (2 * theta_bits, 4), 3: (12, 4),
        4: (16, 16), 5: (2 * theta_bits, 2), 7: (12, 2),
        2: (8, 16)}
    assert selector(Target.BIAS, 1) == 0b111
    assert (g.n_inputs, g.n_neurons, g.timesteps) == (16, 4, 10)
    payload = identify_payload(config)
    assert len(payload) == 28 + 1 + 2 * 9
    ident = Identity.parse(payload)
    assert ident.layers == (LayerGeometry(16, 8, 2, 8, True, theta_bits, 6),
                            LayerGeometry(8, 4, 2, 8, True, theta_bits, 6))
    assert payload[28:29 + 9] == bytes([2, 16, 0, 8, 0, 2, 8, 1, theta_bits, 6])
    assert ident.n_neurons == 4          # the output layer's: what RESULT counts


def test_fake_board_runs_two_layers_like_golden():
    """Signed weights and biases of both layers load, read back unchanged (two's
    complement), and every sample's counts and class are the golden model's; the class is
    the argmax of the counts."""
    config = two_layers()
    weights, theta, bias = parameters(config)
    board = FakeBoard(config)
    link = BoardLink(Direct(board), config, timeout=0.01)
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, size=(12, 16))
    labels = rng.integers(0, 4, size=12)
    report = run_test_set(link, weights, theta, None, images, labels, bias=bias)
    assert report.matched and report.samples == 12
    w, th, b, votes = link.read_state()
    for index in range(2):
        np.testing.assert_array_equal(w[index], weights[index])
        np.testing.assert_array_equal(b[index], bias[index])
        np.testing.assert_array_equal(th[index], theta[index])
    assert (votes == np.eye(4, dtype=np.int64)).all()
    assert any(weights[i].min() < 0 for i in range(2)) and bias[1].min() < 0
    net = Network(config.network, weights=weights, theta=theta, bias=bias)
    classes = []
    for key, image in enumerate(images):
        golden = net.run_sample(image, key=key, learn=False)
        result = link.run_sample(image, key=key)
        np.testing.assert_array_equal(result.counts, golden.counts)
        assert result.predicted == int(np.argmax(golden.counts))
        classes.append(result.predicted)
    assert len(set(classes)) > 1, "the samples should not all fall in one class"
    assert net.run_sample(images[0], key=0, learn=False).layer_counts[0].sum() > 0


def test_fake_board_with_a_wrong_bias_is_caught():
    """A board that drops layer 1's biases: the comparison with the golden model fails."""

    class NoBias(FakeBoard):
        def handle(self, command: int, payload: bytes):
            if command == Command.WRITE_MEMORY and payload[0] == selector(Target.BIAS, 1):
                payload = payload[:3] + bytes(len(payload) - 3)
            return super().handle(command, payload)

    config = two_layers()
    weights, theta, bias = parameters(config)
    bias[1] = np.full_like(bias[1], config.network.cores[1].derived.bias_max)
    link = BoardLink(Direct(NoBias(config)), config, timeout=0.01)
    images = np.random.default_rng(6).integers(0, 256, size=(6, 16))
    report = run_test_set(link, weights, theta, None, images, np.zeros(6, np.int64),
                          bias=bias)
    assert not report.matched and report.first_mismatch


def test_memory_frames_address_layers():
    """A bias word of layer 1 by hand: target byte 0b111, address 1, two 6-bit lanes
    (-3 and 5) in 12 bits, two bytes little-endian; an unknown layer is BAD_ADDRESS."""
    config = two_layers()
    board = FakeBoard(config)
    word = ((-3) & 0x3F) | (5 << 6)
    frame = request(Command.WRITE_MEMORY, bytes([0b111, 1, 0]) + word.to_bytes(2, "little"))
    reply = b"".join(board.replies(frame))
    assert reply[2] == Status.OK
    assert board.memory[0b111][1] == word
    _, _, b, _ = BoardLink(Direct(board), config, timeout=0.01).read_state()
    assert list(b[1][2:4]) == [-3, 5]
    for target in (selector(Target.WEIGHTS, 2), selector(Target.VOTES, 1)):
        reply = b"".join(board.replies(request(Command.READ_MEMORY,
                                               struct.pack("<BHH", target, 0, 1))))
        assert reply[2] == Status.BAD_ADDRESS, target


def test_a_board_of_other_layers_is_refused_naming_the_layer():
    config = two_layers()
    other_network = dataclasses.replace(config.network, layers=(
        config.network.layers[0], dataclasses.replace(config.network.layers[1], n_pe=4)))
    other = Config.from_network(other_network, classify=config.classify)
    link = BoardLink(Direct(FakeBoard(other)), config, timeout=0.01)
    with pytest.raises(LinkError, match=r"^the board's layer 1 has n_pe = 4, the "
                                        r"configuration 2 \(two-layers\)$"):
        link.check_identity()
    one = load_config("digits")
    link = BoardLink(Direct(FakeBoard(one)), config, timeout=0.01)
    with pytest.raises(LinkError, match="network of 1 layer"):
        link.check_identity()


def _membrane_classes(config: Config, weights, theta, bias, images) -> tuple[list, list]:
    """Per image the golden last layer's membrane readout (``v_max`` or ``v_final`` of the
    literal loop) and its counts."""
    net = Network(config.network, weights=weights, theta=theta, bias=bias)
    net.event_driven = False
    out = [net.run_sample(image, key=key, learn=False) for key, image in enumerate(images)]
    field = "v_max" if config.classify.readout == "membrane_max" else "v_final"
    return [getattr(r, field) for r in out], [r.counts for r in out]


@pytest.mark.parametrize("readout", ["membrane_max", "membrane_final"])
def test_fake_board_membrane_readouts(readout):
    """With a membrane readout the board's class is the output neuron with the highest
    membrane readout (``np.argmax``: ties to the lowest), not the argmax of the counts, and
    the counts stay the golden model's; one layer and two."""
    for config in (two_layers(readout), one_layer(readout)):
        weights, theta, bias = parameters(config)
        link = BoardLink(Direct(FakeBoard(config)), config, timeout=0.01)
        images = np.random.default_rng(8).integers(0, 256, size=(12, 16))
        report = run_test_set(link, weights, theta, None, images, np.zeros(12, np.int64),
                              bias=bias)
        assert report.matched and report.samples == 12
        membranes, counts = _membrane_classes(config, weights, theta, bias, images)
        got = [link.run_sample(image, key=key) for key, image in enumerate(images)]
        assert [r.predicted for r in got] == [int(np.argmax(v)) for v in membranes]
        assert any(int(np.argmax(v)) != int(np.argmax(c))
                   for v, c in zip(membranes, counts, strict=True)), \
            "the membrane readout should differ from the counts' somewhere"
        for r, c in zip(got, counts, strict=True):
            np.testing.assert_array_equal(r.counts, c)
        # RESULT carries every membrane, equal to the golden readout
        for r, v in zip(got, membranes, strict=True):
            np.testing.assert_array_equal(r.membranes, v)
        assert report.membranes_equal == 12
        assert report.membranes == [[int(x) for x in v] for v in membranes]
        assert min(min(v) for v in report.membranes) < 0 or readout == "membrane_max"


def narrow(config: Config, bits: int) -> Config:
    """``config`` with a ``bits``-wide membrane (8-bit thresholds) in every layer."""
    network = config.network
    layers = tuple(dataclasses.replace(layer, widths=dataclasses.replace(
        layer.widths, membrane=bits, theta=8)) for layer in network.layers)
    return Config.from_network(dataclasses.replace(network, layers=layers),
                               classify=config.classify, source=config.source)


def test_result_frames_by_hand():
    """The RESULT reply frame byte for byte.  A counts readout: 13 head bytes and one
    byte per count (4 neurons, 4-bit counts), as before the membranes.  A membrane readout
    adds every output neuron's membrane, 12 bits signed rounded up to 2 bytes,
    little-endian, two's complement."""
    from plasticore.boards.protocol import Result, crc16, reply_frame

    counts_config = two_layers()
    board = FakeBoard(counts_config, compute=False)
    list(board.replies(request(Command.RUN_SAMPLE, bytes(5 + 16))))
    frame = b"".join(board.replies(request(Command.RESULT)))
    body = bytes([0x06, 0x00, 17, 0]) + bytes([0]) + bytes(4) + bytes(4) \
        + bytes([1, 0, 0, 0]) + bytes(4)
    assert frame == bytes([0x5A]) + body + crc16(body).to_bytes(2, "little")
    assert Geometry.of(counts_config).result_bytes == 17

    config = narrow(two_layers("membrane_final"), 12)
    g = Geometry.of(config)
    assert (g.membrane_bits, g.membrane_bytes, g.result_bytes) == (12, 2, 13 + 4 + 4 * 2)
    # class 2, 9 spikes, 300 cycles, sample 5; counts 3 0 6 0; membranes -11 398 -2048 7
    payload = (bytes([2]) + bytes([9, 0, 0, 0]) + bytes([0x2C, 0x01, 0, 0])
               + bytes([5, 0, 0, 0]) + bytes([3, 0, 6, 0])
               + bytes([0xF5, 0xFF, 0x8E, 0x01, 0x00, 0xF8, 0x07, 0x00]))
    result = Result.parse(payload, g)
    assert (result.predicted, result.spikes, result.cycles, result.sample) == (2, 9, 300, 5)
    assert list(result.counts) == [3, 0, 6, 0]
    assert list(result.membranes) == [-11, 398, -2048, 7]
    assert Result.parse(frame[5:-2], Geometry.of(counts_config)).membranes is None
    with pytest.raises(ValueError, match=r"^the RESULT reply has 24 payload bytes, "
                                         r"expected 25$"):
        Result.parse(payload[:-1], g)
    frame = reply_frame(Command.RESULT, Status.OK, payload)

    class Replay(Transport):
        def write(self, data: bytes) -> None:
            pass

        def read(self, n: int, timeout: float) -> bytes:
            return frame

    assert list(BoardLink(Replay(), config, timeout=0.01).wait_result().membranes) == [
        -11, 398, -2048, 7]
    frame = reply_frame(Command.RESULT, Status.OK, payload[:-2])
    with pytest.raises(LinkError, match=r"^the RESULT reply has 23 payload bytes, "
                                        r"expected 25$"):
        BoardLink(Replay(), config, timeout=0.01).wait_result()


def test_fake_board_result_carries_the_golden_membranes_in_bytes():
    """A computed sample of a membrane readout: the RESULT payload is the head, the
    golden counts (1 byte each) and the golden ``v_final`` (2 bytes each, signed LE),
    assembled here by hand."""
    config = narrow(two_layers("membrane_final"), 12)
    weights, theta, bias = parameters(config)
    link = BoardLink(Direct(board := FakeBoard(config)), config, timeout=0.01)
    link.load(weights, theta, None, bias)
    images = np.random.default_rng(8).integers(0, 256, size=(3, 16))
    membranes, counts = _membrane_classes(config, weights, theta, bias, images)
    assert membranes[2].min() < 0            # a negative membrane on the line
    for key, image in enumerate(images):
        link.start_sample(image, key)
        payload = link.call(Command.RESULT)
        v, c = membranes[key], counts[key]
        head = struct.pack("<BIII", int(np.argmax(v)), int(c.sum()), board.last_cycles,
                           key + 1)
        assert payload == head + bytes(int(x) for x in c) + b"".join(
            (int(x) & 0xFFFF).to_bytes(2, "little") for x in v)


def test_a_corrupted_membrane_is_caught_on_the_fake_board():
    """A board that sends output neuron 3's membrane one too high: the counts and the
    class may agree, the membrane comparison names the first difference."""

    class Off(FakeBoard):
        def run(self, data: bytes, key: int, learn: bool) -> bytes:
            payload = super().run(data, key, learn)
            v = int.from_bytes(payload[-2:], "little", signed=True) + 1
            return payload[:-2] + v.to_bytes(2, "little", signed=True)

    config = two_layers("membrane_max")
    weights, theta, bias = parameters(config)
    link = BoardLink(Direct(Off(config)), config, timeout=0.01)
    images = np.random.default_rng(8).integers(0, 256, size=(3, 16))
    report = run_test_set(link, weights, theta, None, images, np.zeros(3, np.int64),
                          bias=bias)
    membranes, _ = _membrane_classes(config, weights, theta, bias, images)
    v = int(membranes[0][3])
    assert not report.matched and report.membranes_equal == 0
    assert report.counts_equal == 3
    assert report.first_mismatch == f"sample 0: neuron 3: membrane {v + 1}, golden {v}"


def one_layer(readout: str) -> Config:
    """The first layer of :func:`two_layers` alone, 4 neurons (an ``SnnCore`` on the
    board)."""
    config = two_layers(readout)
    network = config.network
    layer = dataclasses.replace(network.layers[0], n_neurons=4)
    return Config.from_network(dataclasses.replace(network, layers=(layer,)),
                               classify=config.classify, source="one-layer")


def test_membrane_ties_and_identity():
    """Ties go to the lowest neuron; a board built for the counts readout is refused for a
    membrane readout (the readout is in the configuration digest), and the counts
    readout's digest is the network's alone, as before."""
    from plasticore.boards.protocol import board_class, config_digest, network_json
    from plasticore.golden.network import SampleResult

    config = two_layers("membrane_final")
    result = SampleResult(np.array([9, 0, 0, 0]), np.zeros(10, np.int64), None, None, [],
                          v_max=np.array([5, 7, 7, -3]), v_final=np.array([-2, -1, -1, -8]))
    assert board_class(config, result, None) == 1
    assert board_class(two_layers("membrane_max"), result, None) == 1
    assert board_class(two_layers(), result, board_votes(two_layers(), None)) == 0
    import hashlib

    assert config_digest(two_layers()) == hashlib.sha256(
        network_json(two_layers()).encode()).hexdigest()[:16]
    link = BoardLink(Direct(FakeBoard(two_layers())), config, timeout=0.01)
    with pytest.raises(LinkError, match="rebuild the bitstream"):
        link.check_identity()


def test_board_votes_count_readout_is_argmax():
    """Identity votes: predict_votes equals argmax of the counts, ties to the lowest."""
    from plasticore.golden.classify import predict_votes

    votes = board_votes(two_layers(), None)
    counts = np.array([[3, 7, 7, 1], [0, 0, 0, 0], [2, 1, 0, 9]])
    assert list(predict_votes(counts, votes)) == [1, 0, 3]


def imported_digits_mlp_rate(tmp_path: Path, cli) -> Path:
    """``plasticore nir import`` of the shipped NIR file, with the arguments the shipped
    config came from (``configs/digits-mlp-rate.toml``'s header)."""
    weights = tmp_path / "W.npz"
    result = cli("nir", "import", str(ROOT / "examples" / "nir" / "digits-mlp-rate.nir"),
                 "--dataset", "digits", "--timesteps", "25", "--encoder", "rate",
                 "--out", str(tmp_path / "mlp.toml"), "--weights-out", str(weights))
    assert result.returncode == 0, result.stderr
    return weights


def test_digits_mlp_rate_on_the_fake_board_equals_eval(tmp_path, cli):
    """The trained network through the fake board on a pseudo-terminal: every count and
    class as the golden model, and the accuracy ``plasticore eval`` reports on the same 40
    images; no membranes in the JSON of this counts readout.  Read out by
    ``membrane_max``: the JSON has the membrane comparison and every membrane, the golden
    ``v_max`` of the first three test images."""
    from plasticore.boards.fakeboard import PtyBoard
    from plasticore.golden.train import load_weights

    weights = imported_digits_mlp_rate(tmp_path, cli)
    config = load_config("digits-mlp-rate")
    conf = str(ROOT / "configs" / "digits-mlp-rate.toml")
    with PtyBoard(FakeBoard(config)) as pty:
        result = cli("board", "run", conf, "--weights", str(weights), "--port", pty.path,
                     "--samples", "40", "--json")
    assert result.returncode == 0, result.stderr
    import json

    board = json.loads(result.stdout)
    assert board["matched"] and board["samples"] == 40
    assert "membranes" not in board and "membranes_equal" not in board
    evaluated = cli("eval", conf, "--weights", str(weights), "--test-samples", "40",
                    "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    accuracy = json.loads(evaluated.stdout)["accuracy"]
    assert board["correct"] == round(accuracy * 40)

    config = dataclasses.replace(config, classify=dataclasses.replace(
        config.classify, readout="membrane_max"))
    membrane_conf = tmp_path / "membrane.toml"
    membrane_conf.write_text(config.to_toml())
    with PtyBoard(FakeBoard(config)) as pty:
        result = cli("board", "run", str(membrane_conf), "--weights", str(weights),
                     "--port", pty.path, "--samples", "3", "--json")
    assert result.returncode == 0, result.stderr
    board = json.loads(result.stdout)
    assert board["matched"] and board["samples"] == 3
    layers = load_weights(weights, config.network)["layers"]
    net = Network(config.network, weights=[x["weights"] for x in layers],
                  theta=[x["theta"] for x in layers], bias=[x["bias"] for x in layers])
    net.event_driven = False
    _, test = load_dataset("digits", None, 8)
    assert board["membranes_equal"] == 3
    assert board["membranes"] == [net.run_sample(image, key=key, learn=False).v_max.tolist()
                                  for key, image in enumerate(test.images[:3])]


@pytest.mark.sim
@pytest.mark.icarus
def test_two_layers_on_the_simulated_board(tmp_path):
    """The small signed network with biases through ``LinkedCore`` around ``NetworkCore``
    (Icarus; Verilator runs digits-mlp-rate below): every count and class as the golden
    model; then fuzz frames, after which every layer's weights, thresholds and biases read
    back as loaded (two's complement)."""
    config = two_layers()
    weights, theta, bias = parameters(config)
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, size=(3, 16))
    result = board_sim.run(config, weights, theta, None, images, np.arange(3) % 4,
                           "icarus", tmp_path, bias=bias)
    assert result.passed, result.report
    assert result.report["counts_equal"] == result.report["class_equal"] == 3
    result = board_sim.run(config, weights, theta, None, np.zeros((0, 16)), np.zeros(0),
                           "icarus", tmp_path, fuzz_frames=3, seed=3, bias=bias)
    assert result.passed, result.report
    assert result.report["unchanged"] and result.report["frames"] == 3


@pytest.mark.sim
@pytest.mark.icarus
@pytest.mark.parametrize(("readout", "bits"), [("membrane_max", 16), ("membrane_final", 12)])
def test_membrane_readout_on_the_simulated_board(readout, bits, tmp_path, monkeypatch):
    """The small two-layer network with a membrane readout through ``LinkedCore`` (Icarus):
    every count, class (the argmax of the membranes the core sends) and membrane (RESULT
    carries them, a 12-bit membrane sign-extended to 2 bytes) as the golden model.  With
    ``membrane_max``, ``PLASTICORE_CORRUPT=membrane`` (the host receives output neuron 0's
    membrane one too high) fails the run, naming the membrane."""
    config = narrow(two_layers(readout), bits)
    weights, theta, bias = parameters(config)
    images = np.random.default_rng(8).integers(0, 256, size=(3, 16))
    membranes, counts = _membrane_classes(config, weights, theta, bias, images)
    assert any(int(np.argmax(v)) != int(np.argmax(c))          # a counts readout would fail
               for v, c in zip(membranes, counts, strict=True))
    assert bits == 16 or min(v.min() for v in membranes) < 0   # a negative one on the line
    result = board_sim.run(config, weights, theta, None, images, np.arange(3) % 4,
                           "icarus", tmp_path, bias=bias)
    assert result.passed, result.report
    assert result.report["counts_equal"] == result.report["class_equal"] == 3
    assert result.report["membranes_equal"] == 3
    assert result.report["membranes"] == [v.tolist() for v in membranes]
    if readout == "membrane_max":
        monkeypatch.setenv("PLASTICORE_CORRUPT", "membrane")
        result = board_sim.run(config, weights, theta, None, images[:1], np.zeros(1),
                               "icarus", tmp_path, bias=bias)
        v = int(membranes[0][0])
        assert not result.passed
        assert result.report["membranes_equal"] == 0 and result.report["counts_equal"] == 1
        assert result.report["first_mismatch"] == (f"sample 0: neuron 0: membrane {v + 1}, "
                                                   f"golden {v}")


@pytest.mark.verilator
def test_digits_mlp_rate_on_the_simulated_board(tmp_path, cli):
    """The imported 64-100-10 network on three digits test images through the simulated
    board (Verilator): counts and classes as the golden model."""
    from plasticore.golden.train import load_weights

    weights = imported_digits_mlp_rate(tmp_path, cli)
    config = load_config("digits-mlp-rate")
    layers = load_weights(weights, config.network)["layers"]
    _, test = load_dataset("digits", None, 8)
    result = board_sim.run(config, [x["weights"] for x in layers],
                           [x["theta"] for x in layers], None, test.images[:3],
                           test.labels[:3], "verilator", tmp_path,
                           bias=[x["bias"] for x in layers])
    assert result.passed, result.report
    assert result.report["counts_equal"] == result.report["class_equal"] == 3


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.verilator
def test_digits_mlp_rate_whole_test_set_on_the_simulated_board(tmp_path, cli):
    """``plasticore board run configs/digits-mlp-rate.toml --simulate verilator``: all 597
    test images, every count and class as the golden model, accuracy as ``plasticore
    eval``'s."""
    import json

    weights = imported_digits_mlp_rate(tmp_path, cli)
    conf = str(ROOT / "configs" / "digits-mlp-rate.toml")
    result = cli("board", "run", conf, "--weights", str(weights), "--simulate",
                 "verilator", "--json")
    assert result.returncode == 0, result.stderr
    board = json.loads(result.stdout)
    assert board["matched"] and board["samples"] == 597
    evaluated = cli("eval", conf, "--weights", str(weights), "--json")
    accuracy = json.loads(evaluated.stdout)["accuracy"]
    assert board["correct"] == round(accuracy * 597)


def test_digits_mlp_current_input_on_the_fake_board(tmp_path, cli):
    """Current input (``configs/digits-mlp-snntorch.toml``): the pixels go to the board as
    for the rate encoder; every count and class as the golden model on 20 images."""
    import json

    from plasticore.boards.fakeboard import PtyBoard

    weights = tmp_path / "W.npz"
    result = cli("nir", "import", str(ROOT / "examples" / "nir" / "digits-mlp.nir"),
                 "--dataset", "digits", "--timesteps", "25", "--out", str(tmp_path / "m.toml"),
                 "--weights-out", str(weights))
    assert result.returncode == 0, result.stderr
    conf = str(ROOT / "configs" / "digits-mlp-snntorch.toml")
    with PtyBoard(FakeBoard(load_config("digits-mlp-snntorch"))) as pty:
        result = cli("board", "run", conf, "--weights", str(weights), "--port", pty.path,
                     "--samples", "20", "--json")
    assert result.returncode == 0, result.stderr
    board = json.loads(result.stdout)
    assert board["matched"] and board["samples"] == 20


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.verilator
def test_digits_mlp_current_input_on_the_simulated_board(tmp_path, cli):
    """``configs/digits-mlp-snntorch.toml`` (current input) on five test images through the
    simulated board: counts and classes as the golden model."""
    import json

    weights = tmp_path / "W.npz"
    result = cli("nir", "import", str(ROOT / "examples" / "nir" / "digits-mlp.nir"),
                 "--dataset", "digits", "--timesteps", "25", "--out", str(tmp_path / "m.toml"),
                 "--weights-out", str(weights))
    assert result.returncode == 0, result.stderr
    result = cli("board", "run", str(ROOT / "configs" / "digits-mlp-snntorch.toml"), "--weights",
                 str(weights), "--simulate", "verilator", "--samples", "5", "--json")
    assert result.returncode == 0, result.stderr
    board = json.loads(result.stdout)
    assert board["matched"] and board["samples"] == 5


def test_synth_builds_the_membrane_readout():
    """``plasticore synth`` elaborates the core a membrane readout needs (its membranes
    port and the readout's memory), under a cache key of its own."""
    from plasticore.boards.catalog import board_named
    from plasticore.boards.synth import _config_digest, design_rtlil

    board = board_named("arty_a7_35")
    for config in (two_layers("membrane_max"), one_layer("membrane_max")):
        _, text = design_rtlil(config, board, "core")
        assert "membranes__payload" in text and "vmax" in text
        counts = dataclasses.replace(config, classify=ClassifyConfig(readout="count",
                                                                     n_classes=4))
        _, plain = design_rtlil(counts, board, "core")
        assert "membranes__payload" not in plain
        for design in ("core", "board"):
            assert _config_digest(config, design) != _config_digest(counts, design)
