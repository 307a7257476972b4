"""The report's chart: a PNG (matplotlib's Agg canvas: no display needed).

Three panels: people reached by municipality, participants by target group, follow-up
outcomes. A hidden count is drawn as an empty bar labelled as in the text (``<5``, or ``x``
for one hidden to protect a small one), never its value; withheld counts are not drawn.
"""

from __future__ import annotations

import io

from .disclosure import SMALL
from .report import Figure, Report

PANELS = ("municipality", "participants", "followup")


def _bars(figures: list[Figure]) -> list[Figure]:
    return [
        f
        for f in figures
        if f.kind == "count" and f.listed and not f.key.endswith((".participants", ".answered"))
    ]


def chart_png(report: Report) -> bytes:
    # imported here, not at start-up: matplotlib and numpy add ~50 MB to every worker
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as Canvas
    from matplotlib.ticker import MaxNLocator

    # the object API with the Agg canvas (no pyplot): no display, no global state, so it may
    # run in a worker thread
    fig = Canvas(figsize=(8, 10), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(PANELS), 1)
    fig.suptitle(f"{report.title}\n{report.subtitle}", fontsize=11)
    for ax, key in zip(axes, PANELS, strict=True):
        section = report.section(key)
        bars = _bars(section.figures)
        ax.set_title(section.title, fontsize=10, loc="left")
        if not bars:
            ax.text(0.5, 0.5, report.texts["none"], ha="center", va="center")
            ax.set_axis_off()
            continue
        labels = [b.label for b in bars][::-1]
        values = [0 if b.hidden or b.value is None else b.value for b in bars][::-1]
        drawn = ax.barh(labels, values, color="#2f6f9f")
        for rect, b in zip(drawn, bars[::-1], strict=True):
            shown = str(b.public())
            ax.annotate(
                shown,
                (rect.get_width(), rect.get_y() + rect.get_height() / 2),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        ax.tick_params(labelsize=8)
        ax.set_xlim(0, max(max(values), SMALL) * 1.15)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100)
    return out.getvalue()
