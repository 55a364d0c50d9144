"""Supervised training by backpropagation through time (BPTT): the golden model of training
a layered network of integer LIF neurons (``[rule] kind = "bptt"``).

``docs/numerics.md``, "Supervised training (BPTT)", states the equations.  In short:

- **Forward** is the integer golden forward pass itself (:meth:`.network.Network.run_observed`,
  the batch loop of ``Network.run_outputs``), run on the parameters' values on their integer
  grids: float master weights, biases and thresholds in LSB units, rounded to the nearest
  grid point and clipped to the grid (quantization-aware training).  The network it returns
  therefore runs bit for bit in the RTL: no quantization step follows training.
- **Backward** runs through time and layers with a surrogate derivative of the spike
  (:mod:`.surrogate`), the reset detached (the reset's spike carries no gradient), the
  leak's factor ``beta`` carrying the error back one timestep, and straight through the
  rounding of every parameter to its grid (and through the membrane's saturation).
  Inhibition and refractory counts are constants of the backward pass.
- **Loss**: cross-entropy of the readout ``classify.readout`` names: the output spike counts
  (``count``) or the last layer's membrane in units of its ``v_th`` (``membrane_max``,
  ``membrane_final``), against the label smoothed by ``label_smoothing``.
- **Update**: Adam or SGD with momentum (:mod:`.optim`), a schedule, decoupled weight decay,
  in float64 (``backward = "float"``), or through the fixed-point gradient path
  (``backward = "integer"``, :mod:`.bptt_integer`: error terms, surrogate table, exact
  gradient sums, master parameters on a fixed-point grid with stochastic rounding).

Mini-batches in an order shuffled by the config's seed, the images moved at random
(:mod:`.augment`); the last ``validation`` training samples are held out to choose the
epoch whose parameters are kept and to stop early.  The same seed gives the same network.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ..config import BpttConfig, Config, CoreConfig
from .arith import FloatArithmetic, exact_matmul
from .augment import augment
from .bptt_integer import IntegerLayer, MasterRounding, quantize_error
from .datasets import Dataset
from .network import BatchResult, Network
from .optim import Optimizer, schedule_factor
from .surrogate import surrogate
from .train import Progress

__all__ = ["Progress", "EpochStats", "BpttResult", "LayerGrid", "Recording", "train_bptt",
           "forward", "backward", "loss_gradient", "BPTT_STREAM"]

Array = Any

#: numpy seed stream of the trainer (``default_rng([seed, BPTT_STREAM])``): initial
#: weights, the order of the samples, the augmentation's moves.
BPTT_STREAM = 0xB977


@dataclass
class EpochStats:
    """One epoch of training.

    Members
    -------
    epoch : 0-based epoch
    loss : mean cross-entropy over the epoch's training batches (nats)
    train_accuracy : accuracy of the training batches' forward passes (augmented images)
    validation_accuracy : accuracy on the validation samples after the epoch (``None``
        without)
    learning_rate : the epoch's scheduled learning rate
    seconds : wall time of the epoch (training and validation)
    layer_rates : mean spikes per neuron per timestep of every layer during training
    """

    epoch: int
    loss: float
    train_accuracy: float
    validation_accuracy: float | None
    learning_rate: float
    seconds: float
    layer_rates: list[float]


@dataclass
class BpttResult:
    """What :func:`train_bptt` returns.

    Members
    -------
    network : the golden integer :class:`.network.Network` with the kept parameters
    history : one :class:`EpochStats` per epoch run
    best_epoch : the epoch whose parameters were kept (the best validation accuracy, ties to
        the earlier; the last epoch without validation)
    seconds : training wall time (validation included)
    samples_per_second : training samples (times the epochs run) per second
    """

    network: Network
    history: list[EpochStats]
    best_epoch: int
    seconds: float
    samples_per_second: float
    extra: dict[str, Any] = field(default_factory=dict)


class LayerGrid:
    """One layer's integer grids and the constants of its backward pass.

    Members
    -------
    lo, hi : per parameter (weights, bias, theta), the grid's range (LSBs)
    scale : per parameter, its largest magnitude (the optimizer's unit)
    v_th : base threshold (membrane LSBs): the unit of the error terms
    gain : ``2**current_shift`` (membrane LSBs per weight LSB and input unit)
    in_max : the largest input value (pixels for current input, else 1)
    beta : the leak's factor per timestep (``FloatArithmetic.leak(1)``)
    to_reset : reset to ``v_reset`` (the direct path is cut at a spike) or by subtraction
    """

    def __init__(self, core: CoreConfig, first: bool):
        d = core.derived
        self.core = core
        self.has_bias = core.widths.bias > 0
        self.lo = (float(d.w_min), float(d.bias_min if self.has_bias else 0), 0.0)
        self.hi = (float(d.w_max), float(d.bias_max if self.has_bias else 0),
                   float(d.theta_max))
        self.scale = [max(abs(lo), abs(hi), 1.0) for lo, hi in zip(self.lo, self.hi,
                                                                      strict=True)]
        self.v_th = float(core.neuron.v_th)
        self.gain = float(1 << core.widths.current_shift)
        self.current_input = first and core.encoder.kind == "current"
        self.in_max = float((1 << core.encoder.pixel_bits) - 1) if self.current_input else 1.0
        self.beta = float(FloatArithmetic(core).leak(np.float64(1.0)))
        self.to_reset = core.neuron.reset_mode == "to_reset"

    def quantize(self, k: int, p: Array) -> Array:
        """Parameter ``k`` (0 weights, 1 bias, 2 theta) on its grid: nearest, clipped."""
        return np.clip(np.rint(p), self.lo[k], self.hi[k]).astype(np.int64)

    def clip(self, k: int, p: Array) -> None:
        """Keep a master parameter within half an LSB of its grid (in place)."""
        np.clip(p, self.lo[k] - 0.5, self.hi[k] + 0.5, out=p)


@dataclass
class Recording:
    """The forward pass of one batch, per layer and timestep (what the backward pass reads).

    Members
    -------
    inputs : per layer, the ``(T, B, n_inputs)`` input spikes, or with current input the
        ``(B, n_inputs)`` pixels
    integrated : per layer, ``(T, B, n)`` membranes before the threshold test (int64)
    spikes : per layer, ``(T, B, n)`` spikes
    v : ``(T, B, n)`` membranes of the last layer after each timestep
    outputs : the batch's :class:`.network.BatchResult`
    """

    inputs: list[Array]
    integrated: list[Array]
    spikes: list[Array]
    v: Array
    outputs: BatchResult


def forward(net: Network, images: Array, keys: Array) -> Recording:
    """Run a batch through ``net``'s integer forward pass and record it."""
    L, T = len(net.layers), net.core.timesteps
    ins: list[list[Array]] = [[] for _ in range(L)]
    us: list[list[Array]] = [[] for _ in range(L)]
    zs: list[list[Array]] = [[] for _ in range(L)]
    vs: list[Array] = []

    def observe(t: int, index: int, inputs: Array, state: Any) -> None:
        ins[index].append(inputs)
        us[index].append(state.integrated)
        zs[index].append(state.spikes)
        if index == L - 1:
            vs.append(state.v)

    outputs = net.run_observed(images, keys, observe)
    inputs = [np.asarray(x[0]) if net.layers[i].core.encoder.kind == "current" and i == 0
              else np.stack(x) for i, x in enumerate(ins)]
    assert len(vs) == T
    return Recording(inputs, [np.stack(u) for u in us], [np.stack(z) for z in zs],
                     np.stack(vs), outputs)


def loss_gradient(rec: Recording, labels: Array, readout: str, v_th: float,
                  smoothing: float = 0.0) -> tuple[float, Array, Array | None, Array]:
    """Cross-entropy of the batch's readout and where its gradient enters the last layer.

    The target puts ``1 - smoothing`` on the label and spreads ``smoothing`` evenly over
    every class (label smoothing; 0: one-hot).

    Returns ``(loss, g, direct, predictions)``: the mean loss over the batch (nats);
    ``g = dL_b/dz[t]`` ``(T, B, n)``, the gradient of every sample's own loss ``L_b`` (the
    batch mean's ``1 / B`` comes after the backward pass) for the count readout (a spike
    adds 1 to its count, so every timestep gets the count's gradient), zeros otherwise;
    ``direct`` ``(T, B, n)`` the gradient with respect to the membrane after timestep ``t``
    in units of ``v_th`` (the membrane readouts' logits are ``v / v_th``: at the last
    timestep for ``membrane_final``, at the first timestep reaching the maximum for
    ``membrane_max``), ``None`` for counts.
    """
    T, B, n = rec.v.shape
    if readout == "count":
        logits = rec.outputs.counts.astype(np.float64)
    elif readout == "membrane_final":
        logits = rec.outputs.v_final / v_th
    else:
        logits = rec.outputs.v_max / v_th
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    target = np.full((B, n), smoothing / n)
    target[np.arange(B), labels] += 1.0 - smoothing
    loss = float(-(target * log_p).sum(axis=1).mean())
    dlogits = np.exp(log_p) - target
    predictions = np.argmax(rec.outputs.scores(readout), axis=1)
    g = np.zeros((T, B, n))
    direct = None
    if readout == "count":
        g += dlogits
    else:
        direct = np.zeros((T, B, n))
        if readout == "membrane_final":
            direct[T - 1] = dlogits
        else:
            first = np.argmax(rec.v == rec.outputs.v_max[None], axis=0)     # (B, n)
            b, i = np.indices((B, n))
            direct[first, b, i] = dlogits
    return loss, g, direct, predictions


def backward(grids: list[LayerGrid], params: list[list[Array]], rec: Recording, g: Array,
             direct: Array | None, bpttc: BpttConfig, learn_theta: bool,
             integer: list[IntegerLayer] | None = None) -> list[list[Array | None]]:
    """BPTT of one batch: the gradient of the batch's mean loss with respect to every
    layer's weights, bias and theta on their grids (per LSB; ``None`` for a parameter not
    trained), in float64 or (``integer``: each layer's constants) the fixed-point path of
    :mod:`.bptt_integer`.

    Error terms ``e[t] = v_th * dL/du[t]`` of the membrane ``u[t]`` before the threshold
    test (units: loss per threshold), from the last timestep back::

        e[t] = g[t] * sigma[t] + r[t] * (beta * e[t+1] + direct[t])

    ``g[t] = dL/dz[t]`` (from the loss, or from the layer above: ``gain / v_th *
    e_above[t] @ W_above.T``), ``sigma[t]`` the surrogate at ``(u[t] - v_th - theta) /
    v_th``, ``r[t] = 1`` (reset by subtraction, detached) or ``1 - z[t]`` (reset to
    ``v_reset``).  Then ``dL/dW = gain / v_th * sum_t s[t]^T e[t]``, ``dL/db = sum_t e[t] /
    v_th``, ``dL/dtheta = -sum_t g[t] * sigma[t] / v_th``, each divided by the batch size.
    """
    B = g.shape[1]
    if integer is not None:
        g = quantize_error(g, bpttc)
        direct = None if direct is None else quantize_error(direct, bpttc)
    grads: list[list[Array | None]] = [[None, None, None] for _ in grids]
    for li in range(len(grids) - 1, -1, -1):
        grid = grids[li]
        w, theta = grid.quantize(0, params[li][0]), grid.quantize(2, params[li][2])
        top = direct if li == len(grids) - 1 else None
        if integer is None:
            a, e = _errors_float(grid, rec.integrated[li], theta, rec.spikes[li], g, top, bpttc)
            unit = 1.0
        else:
            a, e = integer[li].errors(g, integer[li].sigma(rec.integrated[li], theta),
                                      rec.spikes[li], top)
            unit = float(1 << bpttc.error_frac)
        k = grid.gain / (grid.v_th * unit * B)
        s = rec.inputs[li]
        product = np.matmul if integer is None else exact_matmul
        if grid.current_input:
            total = product(s.T.astype(e.dtype), e.sum(axis=0))
        else:
            total = product(s.reshape(-1, s.shape[-1]).astype(e.dtype).T,
                            e.reshape(-1, e.shape[-1]))
        grads[li][0] = k * total
        if grid.has_bias:
            grads[li][1] = e.sum(axis=(0, 1)) / (grid.v_th * unit * B)
        if learn_theta:
            grads[li][2] = -a.sum(axis=(0, 1)) / (grid.v_th * unit * B)
        if li:
            g = (grid.gain / grid.v_th * (e @ w.T.astype(np.float64)) if integer is None
                 else integer[li].below(e, w))
    return grads


def _errors_float(grid: LayerGrid, u: Array, theta: Array, spikes: Array, g: Array,
                  direct: Array | None, bpttc: BpttConfig) -> tuple[Array, Array]:
    """``(a, e)``: the spike term ``g * sigma`` and the error terms, float64."""
    a = g * surrogate(bpttc.surrogate, (u - (grid.v_th + theta)) / grid.v_th, bpttc.slope)
    e = np.empty_like(a)
    carry = np.zeros(a.shape[1:])
    for t in range(a.shape[0] - 1, -1, -1):
        carry = grid.beta * carry
        if direct is not None:
            carry = carry + direct[t]
        if grid.to_reset:
            carry = carry * ~spikes[t]
        carry = a[t] + carry
        e[t] = carry
    return a, e


def initial_parameters(grids: list[LayerGrid], rng: np.random.Generator,
                       gain: float) -> list[list[Array]]:
    """Float master parameters: weights uniform in ``+-gain / sqrt(n_inputs)`` thresholds
    per full-scale input (``v_th / (2**current_shift * in_max)`` LSBs per threshold),
    clipped to the grid; biases and thetas zero."""
    params = []
    for grid in grids:
        core = grid.core
        limit = gain / np.sqrt(core.n_inputs) * grid.v_th / (grid.gain * grid.in_max)
        w = rng.uniform(-limit, limit, size=(core.n_inputs, core.n_neurons))
        grid.clip(0, w)
        params.append([w, np.zeros(core.n_neurons), np.zeros(core.n_neurons)])
    return params


def _load(net: Network, grids: list[LayerGrid], params: list[list[Array]]) -> None:
    """Put the parameters' grid values into the network's layers."""
    for layer, grid, (w, b, th) in zip(net.layers, grids, params, strict=True):
        layer.weights = grid.quantize(0, w)
        layer.bias = grid.quantize(1, b) if grid.has_bias else None
        layer.theta = grid.quantize(2, th)


def _network(config: Config, grids: list[LayerGrid], params: list[list[Array]]) -> Network:
    """A fresh integer network with the parameters' grid values (as a weights file loads)."""
    return Network(config.network, "integer",
                   weights=[g.quantize(0, p[0]) for g, p in zip(grids, params, strict=True)],
                   theta=[g.quantize(2, p[2]) for g, p in zip(grids, params, strict=True)],
                   bias=[g.quantize(1, p[1]) if g.has_bias else None
                         for g, p in zip(grids, params, strict=True)])


def accuracy(net: Network, images: Array, labels: Array, readout: str) -> float:
    """Accuracy of ``net`` on samples ``images`` with keys ``0..n-1`` (as
    ``golden.train.evaluate`` runs a test set)."""
    if not len(images):
        return 0.0
    outputs = net.run_outputs(images, np.arange(len(images)), chunk=256)
    return float(np.mean(np.argmax(outputs.scores(readout), axis=1) == labels))


def train_bptt(config: Config, train_set: Dataset, epochs: int | None = None,
               progress: Progress | None = None,
               on_epoch: Callable[[EpochStats], None] | None = None) -> BpttResult:
    """Train ``config``'s network with BPTT on ``train_set`` (``[rule] kind = "bptt"``).

    The last ``rule.validation`` samples of ``train_set`` are held out for choosing the
    epoch and early stopping (``rule.patience``); ``epochs`` defaults to
    ``config.data.epochs``.  ``progress("train", done, total)`` follows the training
    samples, ``progress("validate", done, total)`` the validation passes.  Runs on one
    BLAS thread: its matrices are small, and a thread pool competing for busy cores made
    the 784-input layer a hundred times slower.  ``on_epoch(stats)`` is called as each
    epoch ends (its :class:`EpochStats`, validation included).
    """
    with threadpool_limits(limits=1):
        return _train(config, train_set, epochs, progress, on_epoch)


def _train(config: Config, train_set: Dataset, epochs: int | None,
           progress: Progress | None,
           on_epoch: Callable[[EpochStats], None] | None) -> BpttResult:
    """:func:`train_bptt` on one BLAS thread."""
    network = config.network
    bptt = network.rule.bptt
    if bptt is None:
        raise ValueError(f"rule.kind = {network.rule.kind!r}: BPTT training needs "
                         "rule.kind = 'bptt'")
    readout = config.classify.readout
    if readout not in ("count", "membrane_max", "membrane_final"):
        raise ValueError(f"classify.readout = {readout!r}: BPTT trains a supervised readout "
                         "(count, membrane_max or membrane_final)")
    epochs = config.data.epochs if epochs is None else epochs
    if epochs < 1:
        raise ValueError(f"epochs = {epochs}: must be at least 1")
    n_val = bptt.validation
    if n_val >= len(train_set):
        raise ValueError(f"rule.validation = {n_val}: must be below the {len(train_set)} "
                         "training samples")
    moves = (bptt.augment_shift, bptt.augment_translate, bptt.augment_rotate,
             bptt.augment_scale)
    if any(moves) and network.input.kind == "direct":
        raise ValueError("rule.augment_*: the augmentation moves pixel images, not "
                         "direct-input rasters")
    n_fit = len(train_set) - n_val
    fit_x, fit_y = train_set.images[:n_fit], train_set.labels[:n_fit]
    val_x, val_y = train_set.images[n_fit:], train_set.labels[n_fit:]
    learn_theta = bptt.learn_theta
    cores = network.cores
    grids = [LayerGrid(core, i == 0) for i, core in enumerate(cores)]
    rng = np.random.default_rng([network.seed, BPTT_STREAM])
    params = initial_parameters(grids, rng, bptt.init_gain)
    flat = [p for layer in params for p in layer]
    opt = Optimizer(bptt.optimizer, [s for grid in grids for s in grid.scale],
                    bptt.momentum, bptt.weight_decay)
    net = _network(config, grids, params)
    integer = rounding = None
    if bptt.backward == "integer":
        integer = [IntegerLayer(core, bptt) for core in cores]
        rounding = MasterRounding(network.seed, [p.shape for p in flat], bptt.weight_frac)
        for p in flat:     # the master grid
            p[...] = np.rint(p * (1 << bptt.weight_frac)) / (1 << bptt.weight_frac)
    history: list[EpochStats] = []
    best: tuple[float, int, list[list[Array]]] | None = None
    start = time.perf_counter()
    done = 0
    for epoch in range(epochs):
        t0 = time.perf_counter()
        lr = bptt.learning_rate * schedule_factor(bptt.schedule, epoch, epochs)
        order = rng.permutation(n_fit)
        losses, correct = 0.0, 0
        spikes = np.zeros(len(cores))
        for lo in range(0, n_fit, bptt.batch):
            idx = order[lo:lo + bptt.batch]
            images = fit_x[idx]
            images = augment(images, train_set.shape, rng, bptt.augment_shift,
                             bptt.augment_translate, bptt.augment_rotate, bptt.augment_scale)
            _load(net, grids, params)
            rec = forward(net, images, epoch * n_fit + idx)
            loss, g, direct, predictions = loss_gradient(rec, fit_y[idx], readout,
                                                         grids[-1].v_th, bptt.label_smoothing)
            grads = backward(grids, params, rec, g, direct, bptt, learn_theta, integer)
            old = [p.copy() for p in flat] if rounding is not None else None
            opt.step(flat, [x for layer in grads for x in layer], lr)
            if rounding is not None and old is not None:
                for k_, (p_old, p_new) in enumerate(zip(old, flat, strict=True)):
                    rounding.apply(k_, p_old, p_new)
            for grid, layer in zip(grids, params, strict=True):
                for k_, p in enumerate(layer):
                    grid.clip(k_, p)
            losses += loss * len(idx)
            correct += int(np.sum(predictions == fit_y[idx]))
            spikes += [z.sum() for z in rec.spikes]
            done += len(idx)
            if progress is not None:
                progress("train", done, n_fit * epochs)
        val_acc = None
        if n_val:
            _load(net, grids, params)
            val_acc = accuracy(net, val_x, val_y, readout)
            if progress is not None:
                progress("validate", epoch + 1, epochs)
        T = network.timesteps
        rates = [float(s) / (n_fit * T * core.n_neurons) for s, core in
                 zip(spikes, cores, strict=True)]
        history.append(EpochStats(epoch, losses / n_fit, correct / n_fit, val_acc, lr,
                                  time.perf_counter() - t0, rates))
        if on_epoch is not None:
            on_epoch(history[-1])
        score = val_acc if val_acc is not None else float(epoch)
        if best is None or score > best[0]:
            best = (score, epoch, [[p.copy() for p in layer] for layer in params])
        elif bptt.patience and n_val and epoch - best[1] >= bptt.patience:
            break
    seconds = time.perf_counter() - start
    assert best is not None
    return BpttResult(_network(config, grids, best[2]), history, best[1], seconds,
                      done / seconds if seconds > 0 else 0.0)
