# amaranth: UnusedElaboratable=no
"""Tests of ``hdl/generate.py``: files written, manifest content, determinism and lint."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from amaranth import signed, unsigned
from amaranth.lib import data

import plasticore
from plasticore.config import CoreConfig
from plasticore.hdl.encoder import RateEncoder, encoder_input_layout, encoder_output_layout
from plasticore.hdl.generate import (
    LINT_WAIVERS,
    MANIFEST_NAME,
    PE_MODULES,
    LintError,
    PEModule,
    _shape_entry,
    generate,
    lint,
    manifest_summary,
)
from plasticore.hdl.lfsr import LFSR, lfsr_input_layout
from plasticore.sim.matrix import config_matrix

QUICK = config_matrix(quick=True)
CORE = QUICK[0].core
MINE = (PEModule("lfsr", LFSR), PEModule("rate_encoder", RateEncoder))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("rtl")
    return out, generate(CORE, out)


def _declared_ports(text: str, top: str) -> dict[str, tuple[str, int]]:
    """Ports of module ``top`` (the file may also hold its submodules)."""
    body = text[text.index(f"module {top}("):]
    body = body[:body.index("endmodule")]
    found = re.findall(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+)\s*;", body, re.M)
    return {name: (direction, int(msb) + 1 if msb else 1) for direction, msb, name in found}


def test_files_written(generated) -> None:
    out, manifest = generated
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([MANIFEST_NAME, *(f"{pe.top}.v" for pe in PE_MODULES)])
    assert json.loads((out / MANIFEST_NAME).read_text()) == manifest
    for module in manifest["modules"]:
        text = (out / module["file"]).read_text()
        assert f"module {module['top']}(" in text
        assert str(out) not in text and "src =" not in text  # no paths, no src attributes


def test_manifest_describes_config(generated) -> None:
    _, manifest = generated
    assert manifest["generator"] == {"name": "plasticore", "version": plasticore.__version__}
    assert manifest["config"] == CORE.to_dict()
    assert CoreConfig.from_dict(manifest["config"]) == CORE
    assert manifest["derived"] == CORE.derived.to_dict()
    assert [m["top"] for m in manifest["modules"]] == [pe.top for pe in PE_MODULES]


def test_manifest_modules_match_components_and_verilog(generated) -> None:
    out, manifest = generated
    for pe, module in zip(PE_MODULES, manifest["modules"], strict=True):
        component = pe.build(CORE)
        assert module["latency"] == getattr(component, "latency", None)
        assert module["class"] == f"{pe.cls.__module__}.{pe.cls.__name__}"
        assert module["params"] == dict(pe.kwargs)
        ports = {p["name"]: p for p in module["ports"]}
        declared = _declared_ports((out / module["file"]).read_text(), module["top"])
        assert {n: (p["direction"], p["width"]) for n, p in ports.items()} == declared
        streams = [name for name in ("i", "o") if f"{name}__payload" in ports]
        if not streams:             # the core: its streams are checked by its own tests
            assert module["top"] == "snn_core" and "command__payload" in ports
            continue
        for name in streams:
            layout = getattr(component, name).payload.shape()
            payload = ports[f"{name}__payload"]
            assert (payload["stream"], payload["role"]) == (name, "payload")
            assert payload["width"] == layout.size
            assert [(f["name"], f["offset"], f["width"]) for f in payload["fields"]] == [
                (field, layout[field].offset, layout[field].width) for field, _ in layout]
            # fields tile the payload from the LSB, in declaration order
            ends = [f["offset"] + f["width"] for f in payload["fields"]]
            assert [f["offset"] for f in payload["fields"]] == [0, *ends[:-1]]
            assert ends[-1] == payload["width"]
        assert ports["i__ready"]["direction"] == "output"
        assert ports["o__ready"]["direction"] == "input"
        assert ports["o__valid"]["direction"] == "output"


def test_manifest_of_the_encoder_spelled_out(generated) -> None:
    _, manifest = generated
    encoder = next(m for m in manifest["modules"] if m["top"] == "rate_encoder")
    assert encoder["latency"] == RateEncoder(CORE).latency == 3
    ports = {p["name"]: p for p in encoder["ports"]}
    assert ports["i__payload"]["fields"] == [
        {"name": "pixel", "offset": 0, "width": 8, "signed": False},
        {"name": "state", "offset": 8, "width": 32, "signed": False},
        {"name": "key", "offset": 40, "width": 32, "signed": False},
        {"name": "reseed", "offset": 72, "width": 1, "signed": False},
    ]
    assert ports["o__payload"]["fields"] == [
        {"name": "spike", "offset": 0, "width": 1, "signed": False},
        {"name": "state", "offset": 1, "width": 32, "signed": False},
        {"name": "rand_hi", "offset": 33, "width": 16, "signed": False},
    ]
    assert ports["i__payload"]["width"] == encoder_input_layout(CORE).size
    assert ports["o__payload"]["width"] == encoder_output_layout(CORE).size
    lfsr = next(m for m in manifest["modules"] if m["top"] == "lfsr")
    assert lfsr["latency"] == 2
    assert next(p for p in lfsr["ports"] if p["name"] == "i__payload")["width"] == \
        lfsr_input_layout(CORE).size


def test_signed_fields_are_marked() -> None:
    layout = data.StructLayout({"v": signed(12), "spike": 1})
    assert _shape_entry(layout) == {"width": 13, "fields": [
        {"name": "v", "offset": 0, "width": 12, "signed": True},
        {"name": "spike", "offset": 12, "width": 1, "signed": False},
    ]}


def test_array_payloads_give_length_and_element() -> None:
    """The core's pixel words: 4 lanes of 8 bits, lane 0 at the LSB."""
    assert _shape_entry(data.ArrayLayout(unsigned(8), 4)) == {
        "width": 32, "length": 4, "element": {"width": 8, "signed": False}}


def test_deterministic(generated, tmp_path: Path) -> None:
    out, manifest = generated
    again = generate(CORE, tmp_path)
    assert again == manifest
    for path in out.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_config_changes_reach_the_output(tmp_path: Path) -> None:
    core = CORE.replace(**{"encoder.pixel_bits": 12})
    manifest = generate(core, tmp_path, modules=MINE)
    assert manifest["config"]["encoder"]["pixel_bits"] == 12
    assert [m["file"] for m in manifest["modules"]] == ["lfsr.v", "rate_encoder.v"]
    assert "input [76:0] i__payload;" in (tmp_path / "rate_encoder.v").read_text()


def test_rejects_non_config(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="CoreConfig"):
        generate({"n_inputs": 4}, tmp_path)


def test_summary(generated) -> None:
    _, manifest = generated
    text = manifest_summary(manifest)
    assert text.splitlines()[0] == f"plasticore {plasticore.__version__}: " \
        f"{len(PE_MODULES)} modules"
    for pe in PE_MODULES:
        assert f"{pe.top}.v" in text
    assert "rate_encoder.v" in text and "latency 3" in text


# -- lint -------------------------------------------------------------------------------------


@pytest.mark.verilator
@pytest.mark.parametrize("entry", [pytest.param(e, id=e.label) for e in QUICK])
def test_lint_clean(entry, tmp_path: Path) -> None:
    """Every generated module lints clean with exactly the waivers of ``LINT_WAIVERS``."""
    manifest = generate(entry.core, tmp_path)
    problems = lint(tmp_path / m["file"] for m in manifest["modules"])
    assert problems == [], "\n".join(problems)


@pytest.mark.verilator
def test_every_waiver_is_needed(generated) -> None:
    out, manifest = generated
    problems = lint((out / m["file"] for m in manifest["modules"]), waivers={})
    codes = {re.match(r"%Warning-(\w+):", p).group(1) for p in problems}
    assert set(LINT_WAIVERS) <= codes, f"waivers never triggered: {set(LINT_WAIVERS) - codes}"


@pytest.mark.verilator
def test_lint_reports_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input clk, input d, output reg q);\n"
                   "  always @(posedge clk) q = d;\n"
                   "endmodule\n")
    problems = lint([bad])
    assert len(problems) == 1 and problems[0].startswith("%Warning-BLKSEQ:")
    assert str(bad) in problems[0]
    broken = tmp_path / "broken.v"
    broken.write_text("module broken(; endmodule\n")
    assert any(p.startswith("%Error") for p in lint([broken]))


def test_lint_without_verilator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from plasticore import tools

    def missing(name: str):
        raise tools.SimulatorNotFoundError(f"{name} missing")

    monkeypatch.setattr(tools, "find_simulator", missing)
    with pytest.raises(LintError, match="verilator missing"):
        lint([tmp_path / "x.v"])



@pytest.mark.parametrize("layers", [1, 2])
def test_generate_writes_the_membrane_readout(layers: int, tmp_path: Path) -> None:
    """``plasticore generate`` of a ``membrane_max`` configuration writes the core
    co-simulation and synthesis build: its ``membranes`` stream (word index 1 bit, 2 lanes
    of 12-bit membranes, last: 26 bits for 4 output neurons of 2 lanes) and the running
    maximum's memory; ``membrane_final`` the stream without it; a counts readout
    neither (two layers; one layer, whose generate writes every PE too, ``membrane_max``
    alone)."""
    import dataclasses

    from plasticore.cli import main
    from plasticore.config import ClassifyConfig, Config, LayerConfig, NetworkConfig, RuleConfig

    core = CORE.replace(n_inputs=16, n_neurons=4, n_pe=2, **{
        "stdp.learn": False, "neuron.v_th": 400, "neuron.v_rest": 0, "neuron.v_reset": 0,
        "neuron.theta_plus": 0, "neuron.w_inh": 0})
    widths = dataclasses.replace(core.widths, membrane=12, theta=8)
    shapes = [(8, 2), (4, 2)][-layers:]
    network = dataclasses.replace(
        NetworkConfig.from_core(core), rule=RuleConfig(kind="none"),
        layers=tuple(LayerConfig(n_neurons=n, n_pe=p, row_banks=1, widths=widths,
                                 neuron=core.neuron) for n, p in shapes))
    top = "network_core" if layers > 1 else "snn_core"
    found = {}
    readouts = ("membrane_max", "membrane_final", "count")[:3 if layers > 1 else 1]
    for readout in readouts:
        config = Config.from_network(network, classify=ClassifyConfig(readout=readout,
                                                                      n_classes=4))
        path = tmp_path / f"{readout}.toml"
        path.write_text(config.to_toml())
        out = tmp_path / readout
        assert main(["generate", str(path), "--out", str(out)]) == 0
        manifest = json.loads((out / MANIFEST_NAME).read_text())
        module = next(m for m in manifest["modules"] if m["top"] == top)
        ports = {p["name"]: p for p in module["ports"]}
        text = (out / f"{top}.v").read_text()
        found[readout] = ("membranes__payload" in ports, "vmax" in text, module["params"])
        if readout != "count":
            assert ports["membranes__payload"]["width"] == 1 + 2 * 12 + 1
            assert _declared_ports(text, top)["membranes__payload"] == ("output", 26)
    assert found == {readout: {"membrane_max": (True, True, {"membrane": "max"}),
                               "membrane_final": (True, False, {"membrane": "final"}),
                               "count": (False, False, {})}[readout] for readout in readouts}
