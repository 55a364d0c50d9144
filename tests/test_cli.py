"""The command line: JSON output, weights round trip, one-line errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from plasticore.cli import main
from plasticore.config import load_config
from plasticore.golden.datasets import load_digits
from plasticore.golden.train import evaluate, train

SMALL = ["--samples", "40", "--test-samples", "30", "--timesteps", "40", "--quiet"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``plasticore`` in a fresh interpreter (as users do)."""
    return subprocess.run([sys.executable, "-m", "plasticore.cli", *args],
                          capture_output=True, text=True, timeout=600)


def test_train_json_and_eval_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "w.npz"
    assert main(["train", "digits", *SMALL, "--json", "--weights-out", str(weights)]) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "timesteps", "train_samples", "test_samples",
                "spikes_per_sample", "seconds"):
        assert key in summary
    assert summary["timesteps"] == 40
    assert summary["train_samples"] == 40
    assert summary["test_samples"] == 30

    # The same training through the library gives the same accuracy (golden is the reference).
    config = load_config("digits")
    core = config.core.replace(timesteps=40)
    train_set, test_set = load_digits(core.encoder.pixel_bits)
    net, _, _ = train(core, train_set.subset(0, 40))
    expected = evaluate(net, train_set.subset(0, 40), test_set.subset(0, 30)).accuracy
    assert summary["accuracy"] == pytest.approx(expected, abs=1e-6)

    with np.load(weights) as f:
        assert np.array_equal(f["weights"], net.weights)
        assert np.array_equal(f["theta"], net.theta)

    # eval on a config with the same core reproduces the accuracy from the weights file.
    cfg_path = tmp_path / "digits40.toml"
    cfg_path.write_text(config.to_toml().replace("timesteps = 350", "timesteps = 40"))
    assert main(["eval", str(cfg_path), "--weights", str(weights), "--label-samples", "40",
                 "--test-samples", "30", "--json", "--quiet"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["accuracy"] == pytest.approx(expected, abs=1e-6)
    assert "warning" not in ev


def test_config_check_prints_derived(capsys: pytest.CaptureFixture[str]) -> None:
    """--json: the layered form, each layer with its derived widths."""
    assert main(["config", "check", "digits", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["input"]["n_inputs"] == 64
    assert "derived" not in out and "n_inputs" not in out
    assert len(out["layers"]) == 1
    derived = out["layers"][0]["derived"]
    assert derived["w_max"] == 255
    # 8-bit weights, 64 inputs: 255 * 64 = 16320 < 2**14
    assert derived["current_bits"] == 14
    # norm 1632 * 2**16 = 106954752 (27 bits)
    assert (derived["norm_numerator"], derived["quotient_bits"]) == (106954752, 27)
    assert out["rule"]["kind"] == "stdp" and out["rule"]["norm"] == 1632


def test_config_check_resolves_the_flat_form(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """An old flat file is printed in the layered form, with the derived widths of its layer
    as comments: the output is itself a valid file with the same meaning."""
    flat = Path(__file__).parent / "flat_configs" / "mnist-400-fast.toml"
    assert main(["config", "check", str(flat)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"# {flat}: valid\n")
    assert "\n[[layers]]\n" in text and "\n[rule]\n" in text and "[stdp]" not in text
    assert "\n# layers[0]: derived (computed, read-only)\n" in text
    # 784 inputs in 16 lanes: 49 words; 400 neurons on 50 lanes: 8 words; 19992 << 16
    for line in ("# input_words = 49", "# neurons_per_pe = 8", "# quotient_bits = 31"):
        assert f"\n{line}\n" in text, line
    resolved = tmp_path / "resolved.toml"
    resolved.write_text(text)
    assert load_config(resolved) == load_config(flat) == load_config("mnist-400-fast")


def test_config_check_two_layers(tmp_path: Path) -> None:
    """A two-layer network without a learning rule passes config check (each layer's
    derived widths printed); layer 1's own errors are one line, exit 2; generate writes the
    network core (a core per layer); train refuses it in one line (its weights come from
    elsewhere; tests/sim co-simulates such networks)."""
    network = tmp_path / "two.toml"
    text = ("timesteps = 100\n\n[input]\nn_inputs = 64\n\n"
            "[[layers]]\nn_neurons = 32\nn_pe = 4\n\n"
            "[[layers]]\nn_neurons = 10\nn_pe = 2\n\n[layers.neuron]\nv_th = 2000\n\n"
            "[rule]\nkind = \"none\"\n")
    network.write_text(text)
    result = run_cli("config", "check", str(network))
    assert result.returncode == 0, result.stderr
    assert "# layers[1]: derived" in result.stdout and "# input_words = 32" in result.stdout
    result = run_cli("generate", str(network), "--out", str(tmp_path / "rtl"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "rtl").iterdir()) == [
        "manifest.json", "network_core.v"]
    result = run_cli("train", str(network))
    assert result.returncode == 2
    assert result.stderr == (f"plasticore: error: {network}: rule.kind = 'none': nothing to "
                             "train (the weights come from elsewhere: plasticore eval "
                             "--weights, plasticore nir import)\n")
    network.write_text(text.replace("v_th = 2000", "v_rest = 10\nv_reset = 0\nv_th = 5"))
    result = run_cli("config", "check", str(network))
    assert result.returncode == 2
    assert result.stderr == (f"plasticore: error: {network}: layers[1].neuron.v_th = 5: must "
                             "be above v_rest (10)\n")
    assert result.stdout == ""


@pytest.mark.parametrize("args, fragment", [
    (["train", "no-such-config"], "no such config file"),
    (["train", "digits", "--samples", "0"], "positive integer"),
    (["train", "digits", "--samples", "5000"], "has only 1200"),
    (["train", "digits", "--timesteps", "x"], "positive integer"),
    (["train", "digits", "--data", "/tmp"], "data.path"),
    (["train", "mnist-400", "--data", "/no/such/dir"], "/no/such/dir"),
    (["train", "mnist-400", "--data", "no/such/dir"],
     "no/such/dir: mnist directory does not exist (relative to the current directory, "),
    (["train", "digits", "--weights-out", "/proc/no/such/dir/w.npz"],
     "--weights-out /proc/no/such/dir/w.npz: cannot create directory /proc/no/such/dir"),
    (["train", "digits", "--weights-out", "/proc"], "--weights-out /proc: is a directory"),
    (["eval", "digits", "--weights", "/no/such/file.npz"], "no such weights file"),
    (["eval", "digits", "--weights", "/tmp"], "/tmp: is a directory, not a weights file"),
    (["config", "check", "digits", "--bogus"], "unrecognized arguments"),
    (["frobnicate"], "invalid choice"),
    (["explore", "digits", "--out", "/tmp/x", "--clock-mhz", "nan"],
     "explore: argument --clock-mhz: expected a finite positive number, got 'nan'"),
    (["explore", "digits", "--out", "/tmp/x", "--clock-mhz=-inf"], "finite positive"),
    (["bench", "core", "--clock-mhz", "inf"], "finite positive number, got 'inf'"),
])
def test_user_errors_are_one_line(args: list[str], fragment: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("plasticore: error: ")     # argparse's errors too
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("plasticore: error: ") and "\n" not in err, captured.err
    return err


def test_outputs_create_their_folders(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """What `make` does on a fresh clone: no build/ folder yet."""
    weights = tmp_path / "build" / "weights.npz"
    plots = tmp_path / "build" / "plots" / "train"
    assert main(["train", "digits", *SMALL, "--weights-out", str(weights),
                 "--plots", str(plots)]) == 0
    assert weights.is_file() and (plots / "confusion.png").is_file()
    assert sorted(p.name for p in weights.parent.iterdir()) == ["plots", "weights.npz"]
    capsys.readouterr()
    rtl = tmp_path / "fresh" / "rtl"
    assert main(["generate", "digits", "--out", str(rtl)]) == 0
    assert (rtl / "manifest.json").is_file()


def test_weights_out_checked_before_training(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from plasticore.golden import train as train_module

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started before the output was checked")

    monkeypatch.setattr(train_module, "train", no_training)
    (tmp_path / "file").write_text("")
    assert main(["train", "digits", *SMALL, "--weights-out",
                 str(tmp_path / "file" / "w.npz")]) == 2
    assert "file is a file, not a directory" in _one_line_error(capsys)
    assert main(["train", "digits", *SMALL, "--weights-out", str(tmp_path)]) == 2
    assert "is a directory" in _one_line_error(capsys)


def test_concurrent_trains_each_write_a_whole_file(tmp_path: Path) -> None:
    """Two trains with different seeds writing one file: both finish, the file holds one of
    the two networks whole, and no temporary is left behind."""
    weights = tmp_path / "w.npz"
    procs = [subprocess.Popen([sys.executable, "-m", "plasticore.cli", "train", "digits",
                               *SMALL, "--seed", str(seed), "--weights-out", str(weights)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in (1, 2)]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert f"weights written to {weights}" in out
    core = load_config("digits").core
    train_set, _ = load_digits(core.encoder.pixel_bits)
    candidates = [train(core.replace(timesteps=40, seed=seed), train_set.subset(0, 40))[0]
                  for seed in (1, 2)]
    with np.load(weights) as f:
        assert any(np.array_equal(f["weights"], net.weights)
                   and np.array_equal(f["theta"], net.theta) for net in candidates)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]


def test_deeply_nested_toml_is_one_line(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 10000 + "\n")
    assert main(["config", "check", str(deep)]) == 2
    assert "nested too deeply" in _one_line_error(capsys)


def test_unknown_top_level_key_lists_the_tables(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    typo = tmp_path / "typo.toml"
    typo.write_text("[bord]\nname = 'arty_a7_35'\n")
    assert main(["config", "check", str(typo)]) == 2
    err = _one_line_error(capsys)
    assert "unknown key 'bord'" in err
    for table in ("board", "classify", "data", "input", "layers", "rule"):
        assert table in err


def test_n_classes_must_match_the_dataset(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(load_config("digits").to_toml().replace("n_classes = 10", "n_classes = 4"))
    assert main(["train", str(cfg), *SMALL]) == 2
    assert "classify.n_classes = 4, but digits has 10 classes" in _one_line_error(capsys)


@pytest.mark.parametrize("rates, fragment", [
    (np.array([["x"] * 100] * 10), "class_rates must be numbers"),
    (np.full((10, 100), -3.0), "class_rates span -3..-3"),
    (np.full((10, 100), np.inf), "not finite"),
    (np.full((10, 100), 1e300), "lies in 0..350"),
])
def test_board_run_checks_the_readout_before_the_port(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], rates: object,
        fragment: str) -> None:
    """Bad class rates: one line, before the port is opened (the port does not exist), and
    no numpy warning (warnings are errors in this suite)."""
    from plasticore.golden.network import Network

    net = Network(load_config("digits").core)
    path = tmp_path / "w.npz"
    np.savez(path, weights=net.weights, theta=net.theta, class_rates=rates)
    assert main(["board", "run", "digits", "--weights", str(path),
                 "--port", str(tmp_path / "ttyNONE")]) == 2
    assert fragment in _one_line_error(capsys)


def test_bad_config_file_names_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(load_config("digits").to_toml().replace("v_th = 3315", "v_th = 40000"))
    result = run_cli("train", str(bad))
    assert result.returncode == 2
    assert "layers[0].neuron.v_th = 40000" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    typo = tmp_path / "typo.toml"
    typo.write_text(load_config("digits").to_toml().replace("leak_shift", "leak_shfit"))
    result = run_cli("config", "check", str(typo))
    assert result.returncode == 2
    assert "'layers[0].neuron.leak_shfit'" in result.stderr


def test_bad_weights_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip archive")
    result = run_cli("eval", "digits", "--weights", str(junk))
    assert result.returncode == 2
    assert "not an .npz archive" in result.stderr

    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, weights=np.zeros((3, 3), np.int64), theta=np.zeros(3, np.int64))
    result = run_cli("eval", "digits", "--weights", str(wrong))
    assert result.returncode == 2
    assert "shape (3, 3)" in result.stderr
    assert junk.read_bytes() == b"not a zip archive"   # nothing touched


def test_weights_out_float_refused_before_training(tmp_path: Path) -> None:
    result = run_cli("train", "digits", "--arithmetic", "float", "--weights-out",
                     str(tmp_path / "w.npz"), *SMALL)
    assert result.returncode == 2
    assert "--arithmetic integer" in result.stderr
    assert not (tmp_path / "w.npz").exists()


def test_generate_writes_verilog_and_manifest(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rtl"
    assert main(["generate", "digits", "--out", str(out)]) == 0
    assert "manifest.json" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["n_inputs"] == 64
    for module in manifest["modules"]:
        text = (out / module["file"]).read_text()
        assert f"module {module['top']}" in text


def test_generate_bad_output_directory() -> None:
    result = run_cli("generate", "digits", "--out", "/proc/no/such/dir")
    assert result.returncode == 2
    assert "cannot create directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
