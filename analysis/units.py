"""Units and direction of the metrics, for the tables' headers (``psnr (val, dB) ↑``, ``latency (ms) ↓``). The
direction is :func:`analysis.load.lower_is_better`, the same rule that selects checkpoints and ranks rows, so a
header never points the other way from the ranking under it."""

from __future__ import annotations

from analysis.load import lower_is_better
from restore_core.run_files import metric_kind

# The unit of a metric kind (``val/delta_psnr`` -> ``psnr``); a kind not listed is unitless (SSIM, LPIPS, F1, AUC).
METRIC_UNITS = {"psnr": "dB", "latency_ms": "ms"}
# The name a cost column has in a table header (its unit and direction come from the two rules above).
COST_NAMES = {"cost/params": "params", "cost/macs": "MACs", "cost/latency_ms": "latency"}


def unit(metric: str) -> str:
    """``val/psnr`` -> ``dB``; ``cost/latency_ms`` -> ``ms``; ``""`` for a unitless metric."""
    return METRIC_UNITS.get(metric_kind(metric), "")


def arrow(metric: str, mode: str | None = None) -> str:
    """``↓`` where lower is better (by name, or by ``mode`` for the space's own metric), else ``↑``."""
    return "↓" if lower_is_better(metric, mode) else "↑"


def labelled(name: str, metric: str, qualifiers: tuple[str, ...] = (), mode: str | None = None) -> str:
    """A header with its qualifiers and unit in brackets and its direction: ``psnr (test, dB) ↑``, ``ssim ↑``.

    Args:
        name: what the column is called, e.g. ``psnr`` or ``Δ psnr``.
        metric: the metric whose unit and direction the header gives.
        qualifiers: words before the unit, e.g. the split the value comes from.
        mode: the space's ``min``/``max`` where ``metric`` is the space's metric (it overrides the name rule).
    """
    inside = [q for q in (*qualifiers, unit(metric)) if q]
    return f"{name} ({', '.join(inside)}) {arrow(metric, mode)}" if inside else f"{name} {arrow(metric, mode)}"


def cost_header(key: str) -> str:
    """``cost/latency_ms`` -> ``latency (ms) ↓``."""
    return labelled(COST_NAMES[key], key)
