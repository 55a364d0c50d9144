"""``plasticore bench link``: the host driver's bytes per second against the UART line rate.

The driver (``boards/host.py`` over pyserial) talks to a fake board on a pseudo-terminal
(``boards/fakeboard.py``) that answers at once with zero counts: IDENTIFY, a load of every
memory, then ``samples`` samples.  Twice: with the board answering at once (what the driver
could move), and paced at the line rate both ways as a UART would (the shortfall from 100 %
is then what the turnarounds between request and reply cost).  On a pseudo-terminal the baud
rate is nominal; the line rate is ``board.baud / 10`` bytes per second (8N1).
"""

from __future__ import annotations

from typing import Any

from ..boards.fakeboard import measure_throughput
from ..config import load_config

__all__ = ["measure", "format_table"]


def measure(config_name: str, samples: int) -> dict[str, Any]:
    """Both runs of ``config_name`` (unpaced, then paced at the line rate)."""
    config = load_config(config_name)
    return {"config": config.source, "baud": config.board.baud, "samples": samples,
            "runs": [measure_throughput(config, samples, line_rate=paced)
                     for paced in (False, True)]}


def format_table(result: dict[str, Any]) -> str:
    rows = [f"| {'board paced at the line rate' if r['line_rate'] else 'board answers at once'}"
            f" | {r['bytes']:,} | {r['seconds']:.3f} | {r['bytes_per_s']:,.0f} | "
            f"{r['percent_of_line']:.1f} % |" for r in result["runs"]]
    return "\n".join([
        f"{result['config']}: host link at {result['baud']} baud "
        f"({result['baud'] / 10:,.0f} B/s line rate), IDENTIFY, load and "
        f"{result['samples']} samples",
        "",
        "| fake board | bytes | wall (s) | bytes/s | share of the line rate |",
        "|---|---:|---:|---:|---:|",
        *rows,
    ])
