"""The snnTorch side of ``plasticore bench bptt``: the configuration's network in snnTorch.

Run as ``python -m plasticore.bench.snntorch_bptt`` by :func:`.bptt.run_side` (torch is
imported in that subprocess only), with a spec on
stdin (:func:`.bptt.measure` writes it: the configuration as TOML, the seed, the epochs,
the training samples) and JSON lines on stdout (progress, one line per epoch, the record).

The network is ``Linear -> Leaky`` per layer (:func:`.bptt.peer_network`: the leak as
``beta``, threshold 1, reset by subtraction, one timestep late where the integer network
subtracts ``threshold / beta`` at once, bias where the layer has one), float32, one torch
thread.  Inputs are ``pixel / pixel_max``: a constant current (its ``Linear`` computed once
per sample, as plasticore's current input does) or Bernoulli spikes of probability
``pixel / pixel_max * max_rate`` drawn afresh at every timestep.  Training is BPTT through
snnTorch's own surrogate (``fast_sigmoid`` with the configuration's slope, or ``atan``)
on cross-entropy of the readout the configuration names (output spike counts, or the
highest or last membrane), with its optimizer, learning rate, schedule (the numpy
trainer's own function) and decoupled weight decay.  The validation samples (the last
``rule.validation`` of the training set) choose the epoch whose weights are tested, as the
numpy trainer does; the training images are moved by the numpy trainer's own augmentation
(``golden/augment.py``) as they are drawn into a mini-batch, and the target is smoothed by
``label_smoothing`` as there.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from typing import Any

import numpy as np
import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

from ..golden.augment import augment
from ..golden.optim import schedule_factor
from .bptt import emit, peer_network, spec_config, splits

__all__ = ["PeerNet", "main"]


class PeerNet(nn.Module):
    """``Linear -> Leaky`` per layer, stepped one timestep at a time over a sample.

    Parameters
    ----------
    peer : dict
        :func:`.bptt.peer_network`.
    bptt : BpttConfig
        The training parameters: ``init_gain`` (weights uniform in ``+-init_gain /
        sqrt(n_inputs)`` thresholds, biases 0) and ``learn_theta`` (per-neuron thresholds
        trained with the weights).
    spike_grad : callable
        snnTorch surrogate spike function.
    """

    def __init__(self, peer: dict[str, Any], bptt: Any, spike_grad: Any):
        super().__init__()
        sizes = peer["layers"]
        self.rate = peer["input"] == "rate"
        self.max_rate = float(peer["max_rate"])
        self.fcs = nn.ModuleList(nn.Linear(n_in, n_out, bias=n["bias"])
                                 for n_in, n_out, n in zip(sizes[:-1], sizes[1:],
                                                           peer["neurons"], strict=True))
        with torch.no_grad():
            for fc in self.fcs:        # the numpy trainer's initial weights (init_gain)
                bound = bptt.init_gain / fc.in_features ** 0.5
                fc.weight.uniform_(-bound, bound)
                if fc.bias is not None:
                    fc.bias.zero_()
        self.lifs = nn.ModuleList(
            snn.Leaky(beta=n["beta"], threshold=torch.ones(size), spike_grad=spike_grad,
                      learn_threshold=bptt.learn_theta, reset_mechanism=n["reset"],
                      reset_delay=n["reset_delay"])
            for size, n in zip(sizes[1:], peer["neurons"], strict=True))

    def forward(self, x: torch.Tensor, timesteps: int,
                gen: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run a batch ``x`` (B, n_inputs) in [0, 1] from rest for ``timesteps`` steps.

        Returns the output spike counts, the highest output membrane over the steps and the
        last one, each (B, n_outputs).
        """
        mems = [lif.init_leaky() for lif in self.lifs]
        first = None if self.rate else self.fcs[0](x)       # constant current input
        p = (x * self.max_rate).clamp(0.0, 1.0) if self.rate else None
        counts = v_max = mem = None
        for _ in range(timesteps):
            s = torch.bernoulli(p, generator=gen) if p is not None else None
            for i, (fc, lif) in enumerate(zip(self.fcs, self.lifs, strict=True)):
                cur = first if i == 0 and first is not None else fc(s)
                s, mems[i] = lif(cur, mems[i])
            mem = mems[-1]
            counts = s if counts is None else counts + s
            v_max = mem if v_max is None else torch.maximum(v_max, mem)
        assert counts is not None and v_max is not None and mem is not None
        return counts, v_max, mem


def _surrogate(bptt: Any) -> Any:
    """snnTorch's surrogate of the configuration's: ``fast_sigmoid(slope=k)`` is the numpy
    trainer's ``1 / (1 + k |x|)**2``; ``atan(alpha=k)`` has the numpy ``arctan``'s shape
    ``1 / (1 + (pi/2 k x)**2)`` times ``k / 2`` (``golden/surrogate.py``)."""
    if bptt.surrogate == "fast_sigmoid":
        return surrogate.fast_sigmoid(slope=bptt.slope)
    return surrogate.atan(alpha=bptt.slope)


def _optimizer(bptt: Any, net: PeerNet, peer: dict[str, Any]) -> torch.optim.Optimizer:
    """Adam, or SGD with momentum, with the numpy trainer's steps: it runs the optimizer on
    every parameter in units of its grid's largest magnitude (``golden/optim.py``), which
    is the same optimizer on the float parameter with the learning rate times that unit
    (Adam) or times its square (SGD).  The weight decay is decoupled (:func:`_decay`)."""
    power = 1 if bptt.optimizer == "adam" else 2
    groups = []
    for fc, lif, n in zip(net.fcs, net.lifs, peer["neurons"], strict=True):
        w, b, th = n["scale"]
        groups.append({"params": [fc.weight], "lr": bptt.learning_rate * w ** power})
        if fc.bias is not None:
            groups.append({"params": [fc.bias], "lr": bptt.learning_rate * b ** power})
        if bptt.learn_theta:
            groups.append({"params": [lif.threshold], "lr": bptt.learning_rate * th ** power})
    if bptt.optimizer == "adam":
        return torch.optim.Adam(groups, lr=bptt.learning_rate)
    return torch.optim.SGD(groups, lr=bptt.learning_rate, momentum=bptt.momentum)


@torch.no_grad()
def _decay(opt: torch.optim.Optimizer, lr: float, weight_decay: float) -> None:
    """Decoupled weight decay after a step, ``p -= lr * weight_decay * p`` with the epoch's
    scheduled learning rate (as ``golden/optim.py``)."""
    if weight_decay:
        for group in opt.param_groups:
            for p in group["params"]:
                p.mul_(1.0 - lr * weight_decay)


def _schedule(bptt: Any, opt: torch.optim.Optimizer, epochs: int) -> Any:
    """The numpy trainer's learning-rate schedule by epoch (``golden.optim.schedule_factor``,
    the one definition)."""
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda epoch: schedule_factor(bptt.schedule, epoch, epochs))


def _scores(readout: str, out: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    counts, v_max, v_final = out
    return {"membrane_max": v_max, "membrane_final": v_final}.get(readout, counts)


@torch.no_grad()
def _accuracy(net: PeerNet, x: torch.Tensor, y: torch.Tensor, timesteps: int, readout: str,
              seed: int) -> float:
    """Accuracy on ``x`` (argmax of the readout's scores, ties to the lowest class); rate
    spikes drawn from a generator seeded the same on every evaluation."""
    if len(x) == 0:
        return 0.0
    gen = torch.Generator().manual_seed(seed + 1_000_003)
    right = 0
    for i in range(0, len(x), 512):
        scores = _scores(readout, net(x[i:i + 512], timesteps, gen))
        right += int((torch.argmax(scores, dim=1) == y[i:i + 512]).sum())
    return right / len(x)


def train(spec: dict[str, Any]) -> dict[str, Any]:
    """Train and test the spec's network; return the record (see :func:`.bptt.run_side`)."""
    config = spec_config(spec)
    seed, epochs = int(spec["seed"]), int(spec["epochs"])
    bptt = config.network.rule.bptt
    assert bptt is not None
    peer = peer_network(config)
    timesteps, readout = config.network.timesteps, peer["readout"]
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    train_set, test_set = splits(config, spec["samples"])
    n_fit = len(train_set) - bptt.validation
    scale = float(peer["pixel_max"])
    fit_x, y_fit = train_set.images[:n_fit], torch.tensor(train_set.labels[:n_fit])
    x_val = torch.tensor(train_set.images[n_fit:], dtype=torch.float32) / scale
    y_val = torch.tensor(train_set.labels[n_fit:], dtype=torch.long)
    x_test = torch.tensor(test_set.images, dtype=torch.float32) / scale
    y_test = torch.tensor(test_set.labels, dtype=torch.long)
    moves = (bptt.augment_shift, bptt.augment_translate, bptt.augment_rotate,
             bptt.augment_scale)

    net = PeerNet(peer, bptt, _surrogate(bptt))
    opt = _optimizer(bptt, net, peer)
    sched = _schedule(bptt, opt, epochs)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=bptt.label_smoothing)
    gen_order = torch.Generator().manual_seed(seed)
    gen_spikes = torch.Generator().manual_seed(seed + 1)
    rng = np.random.default_rng(seed)
    history: list[dict[str, Any]] = []
    best, best_state, stale = -1.0, copy.deepcopy(net.state_dict()), 0
    train_seconds = 0.0
    for epoch in range(1, epochs + 1):
        order = torch.randperm(n_fit, generator=gen_order)
        net.train()
        lr = bptt.learning_rate * schedule_factor(bptt.schedule, epoch - 1, epochs)
        total, right = 0.0, 0
        start = time.perf_counter()
        for lo in range(0, n_fit, bptt.batch):
            idx = order[lo:lo + bptt.batch]
            images = augment(fit_x[idx.numpy()], train_set.shape, rng, *moves)
            x = torch.from_numpy(images.astype(np.float32) / scale)
            scores = _scores(readout, net(x, timesteps, gen_spikes))
            loss = loss_fn(scores, y_fit[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            _decay(opt, lr, bptt.weight_decay)
            total += float(loss.detach()) * len(idx)
            right += int((torch.argmax(scores.detach(), dim=1) == y_fit[idx]).sum())
            emit("progress", [f"snntorch s{seed} e{epoch}", min(lo + bptt.batch, n_fit), n_fit])
        sched.step()
        seconds = time.perf_counter() - start
        train_seconds += seconds
        net.eval()
        val = (_accuracy(net, x_val, y_val, timesteps, readout, seed) if bptt.validation
               else None)
        row = {"seed": seed, "epoch": epoch, "loss": total / n_fit,
               "train_accuracy": right / n_fit, "validation_accuracy": val,
               "seconds": seconds, "samples_per_second": n_fit / seconds}
        history.append(row)
        emit("epoch", row)
        if val is None or val > best:
            best, best_state, stale = (val or 0.0), copy.deepcopy(net.state_dict()), 0
        else:
            stale += 1
            if bptt.patience and stale >= bptt.patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    test = _accuracy(net, x_test, y_test, timesteps, readout, seed)
    return {"side": "snntorch", "seed": seed, "epochs": len(history),
            "train_samples": n_fit, "train_seconds": train_seconds,
            "samples_per_second": n_fit * len(history) / train_seconds,
            "test_accuracy": test, "history": history,
            "versions": {"snntorch": snn.__version__, "torch": torch.__version__},
            "torch_threads": torch.get_num_threads()}


def main() -> int:
    spec = json.loads(sys.stdin.read())
    emit("record", train(spec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
