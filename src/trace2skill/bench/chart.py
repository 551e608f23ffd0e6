"""A pass-rate chart for a benchmark report: one bar per arm, its 95% interval, and the numbers on it.

Drawn with matplotlib's object-oriented API on the Agg canvas (no pyplot, no display, no global
state), at 800x500 pixels, and saved without the metadata that would change between versions, so
the same results give the same bytes and a chart can sit in version control beside its numbers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from trace2skill.bench.stats import PassRate
from trace2skill.errors import InvalidInput

__all__ = ["Bar", "pass_rate_chart"]

_SIZE_INCHES = (8.0, 5.0)
_DPI = 100
_PALETTE = ("#9e9e9e", "#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#eeca3b")
_GROUP_GAP = 0.6  # in bar widths
_CROWDED = 8  # more bars than this get smaller type


@dataclass(frozen=True)
class Bar:
    """One arm's pass rate; bars sharing a `group` (a seed, a split) sit together, colours follow the label."""

    label: str
    rate: PassRate
    group: str = ""


def pass_rate_chart(bars: Sequence[Bar], path: str | os.PathLike[str], *, title: str = "", subtitle: str = "") -> Path:
    """Write the bars as an 800x500 PNG at `path` (making its folder) and return the path."""
    if not bars:
        raise InvalidInput("a pass-rate chart needs at least one bar")
    mpl = _matplotlib()
    groups = list(dict.fromkeys(bar.group for bar in bars))
    labels = list(dict.fromkeys(bar.label for bar in bars))
    ordered = [bar for group in groups for bar in bars if bar.group == group]
    x = _positions(ordered)
    colours = [_PALETTE[labels.index(bar.label) % len(_PALETTE)] for bar in ordered]
    fontsize = 8 if len(ordered) > _CROWDED else 10

    figure = mpl.Figure(figsize=_SIZE_INCHES, dpi=_DPI, layout="constrained")
    mpl.FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.bar(
        x,
        [100 * bar.rate.rate for bar in ordered],
        width=0.8,
        color=colours,
        yerr=[[_below(bar.rate) for bar in ordered], [_above(bar.rate) for bar in ordered]],
        capsize=6,
        error_kw={"elinewidth": 1.2},
        zorder=2,
    )
    for xi, bar in zip(x, ordered, strict=True):
        axes.annotate(
            f"{bar.rate.rate:.1%}\nn = {bar.rate.total}" if bar.rate.total else "no runs",
            (xi, 100 * bar.rate.rate + _above(bar.rate)),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=fontsize,
            linespacing=1.1,
        )

    grouped = len(groups) > 1
    if grouped:  # ticks name the groups, the legend names the arms
        spans = [[xi for xi, bar in zip(x, ordered, strict=True) if bar.group == group] for group in groups]
        axes.set_xticks([(xs[0] + xs[-1]) / 2 for xs in spans], [g or "(no group)" for g in groups], fontsize=10)
        handles = [mpl.Patch(facecolor=_PALETTE[i % len(_PALETTE)]) for i in range(len(labels))]
        axes.legend(handles, labels, loc="upper left", ncols=min(len(labels), 4), frameon=False, fontsize=9)
    else:
        axes.set_xticks(x, [bar.label for bar in ordered], fontsize=fontsize)
    axes.set_xlim(x[0] - 0.7, x[-1] + 0.7)
    axes.set_ylim(0, 124 if grouped else 112)  # room for the numbers above a bar at 100 %, and for the legend
    axes.set_yticks(range(0, 101, 20))
    axes.yaxis.set_major_formatter(mpl.PercentFormatter(decimals=0))
    axes.set_ylabel("pass rate (bars: 95% interval)")
    axes.grid(axis="y", color="#e0e0e0", zorder=0)
    axes.spines[["top", "right"]].set_visible(False)
    if title:
        figure.suptitle(title, fontsize=13, fontweight="bold")
    if subtitle:
        axes.set_title(subtitle, fontsize=10, color="#555555")

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, format="png", dpi=_DPI, metadata={"Software": None})
    return target


def _below(rate: PassRate) -> float:
    return max(0.0, 100 * (rate.rate - rate.low)) if rate.total else 0.0


def _above(rate: PassRate) -> float:
    """The upper whisker; none for a bar with no runs, whose interval [0, 1] says only that nothing was measured."""
    return max(0.0, 100 * (rate.high - rate.rate)) if rate.total else 0.0


def _positions(ordered: Sequence[Bar]) -> list[float]:
    """One bar width apart, with a gap where the group changes."""
    x: list[float] = []
    position = 0.0
    for i, bar in enumerate(ordered):
        if i and bar.group != ordered[i - 1].group:
            position += _GROUP_GAP
        x.append(position)
        position += 1.0
    return x


def _matplotlib() -> SimpleNamespace:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
        from matplotlib.ticker import PercentFormatter
    except ImportError as exc:
        raise InvalidInput("benchmark charts need matplotlib: pip install 'trace2skill[bench]'") from exc
    return SimpleNamespace(
        Figure=Figure, FigureCanvasAgg=FigureCanvasAgg, Patch=Patch, PercentFormatter=PercentFormatter
    )
