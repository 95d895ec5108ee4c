"""The growth chart: a pupil's level per criterion, half term by half term.

Two renderings of one :class:`Chart`:

* :func:`save_chart` draws it with matplotlib (Agg backend, no display needed) to a PNG,
  SVG or PDF file, for ``scanflow pupil show --chart`` and the PDF portfolio;
* :func:`chart_svg` writes a small SVG by hand for the web page: it is made in well under
  a millisecond, and uses presentation attributes only, so the review app's strict
  Content-Security-Policy (no inline styles) shows it as it is.

>>> chart = growth_chart(pupil_portfolio(archive, "A100000000001"))   # doctest: +SKIP
>>> save_chart(chart, "ava.png")                                      # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

from scanflow.archive.terms import HalfTerm
from scanflow.errors import UsageError

# Colour-blind-safe (Okabe-Ito), one per criterion in rubric order.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
FORMATS = {".png", ".svg", ".pdf"}


@dataclass
class Chart:
    title: str
    half_terms: list[str]  # x axis, oldest first
    series: dict[str, list[int | None]]  # criterion name -> level per half term (None: none)

    @property
    def empty(self) -> bool:
        return not any(v is not None for values in self.series.values() for v in values)


def growth_chart(portfolio) -> Chart:
    """Levels per criterion over the half terms of a :class:`~scanflow.exports.portfolio.Portfolio`.

    Where a half term has several scored pieces (two genres), their mean is plotted.
    """
    terms = portfolio.half_terms
    series: dict[str, list[int | None]] = {}
    for cid, name in portfolio.criteria.items():
        values: list[int | None] = []
        for term in terms:
            levels = [p.levels[cid].level for p in portfolio.pieces
                      if p.half_term == term and cid in p.levels]
            values.append(round(sum(levels) / len(levels), 2) if levels else None)
        series[name] = values
    return Chart(title=f"{portfolio.pupil.display_name}: levels over time",
                 half_terms=terms, series=series)


def _short_term(term: str) -> str:
    ht = HalfTerm.parse(term)
    return f"{ht.season[:2].capitalize()}{ht.part} {ht.academic_year[2:]}"


def save_chart(chart: Chart, path: str | Path) -> Path:
    """Write the chart to ``path``; the file type follows the suffix (.png, .svg, .pdf)."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise UsageError(f"{path.name}: a chart can be saved as PNG, SVG or PDF.",
                         hint="End the file name with .png, .svg or .pdf.")
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display: a server or a terminal
    from matplotlib.figure import Figure

    # A Figure without pyplot: no global state, safe in a web server's threads.
    fig = Figure(figsize=(max(6.0, 0.55 * len(chart.half_terms) + 3), 4.2), dpi=150)
    ax = fig.add_subplot(1, 1, 1)
    xs = list(range(len(chart.half_terms)))
    for i, (name, values) in enumerate(chart.series.items()):
        points = [(x, v) for x, v in zip(xs, values) if v is not None]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                    linewidth=1.6, markersize=4, color=COLOURS[i % len(COLOURS)], label=name)
    ax.set_ylim(0.5, 5.5)
    ax.set_yticks([1, 2, 3, 4, 5])
    ax.set_ylabel("Level")
    ax.set_xticks(xs)
    ax.set_xticklabels([_short_term(t) for t in chart.half_terms], rotation=45, ha="right",
                       fontsize=8)
    ax.set_xlim(-0.5, max(len(xs) - 0.5, 0.5))
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_title(chart.title, fontsize=10)
    if chart.empty:
        ax.text(0.5, 0.5, "No levels recorded yet", transform=ax.transAxes, ha="center",
                va="center", color="#666666")
    else:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Fixed metadata so that the same chart always gives the same file.
    metadata = {"Date": None} if path.suffix.lower() == ".svg" else \
        {"CreationDate": None} if path.suffix.lower() == ".pdf" else {}
    fig.savefig(path, metadata=metadata)
    return path


def chart_svg(chart: Chart, width: int = 720, height: int = 300) -> str:
    """The chart as a self-contained SVG element (attributes only, no styles or scripts)."""
    left, right, top, bottom = 40, 170, 16, 52
    pw, ph = width - left - right, height - top - bottom
    n = max(len(chart.half_terms), 1)

    def x(i: int) -> float:
        return left + (pw * (i + 0.5) / n)

    def y(level: float) -> float:
        return top + ph * (5.5 - level) / 5

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-label="{escape(chart.title)}">',
             f"<title>{escape(chart.title)}</title>"]
    for level in range(1, 6):
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(level):.1f}" '
                     f'y2="{y(level):.1f}" stroke="#e3e3e3" stroke-width="1"/>')
        parts.append(f'<text x="{left - 8}" y="{y(level) + 4:.1f}" font-size="11" '
                     f'text-anchor="end" fill="#555">{level}</text>')
    for i, term in enumerate(chart.half_terms):
        parts.append(f'<text x="{x(i):.1f}" y="{top + ph + 16}" font-size="10" '
                     f'text-anchor="end" fill="#555" transform="rotate(-35 {x(i):.1f} '
                     f'{top + ph + 16})">{escape(_short_term(term))}</text>')
    for k, (name, values) in enumerate(chart.series.items()):
        colour = COLOURS[k % len(COLOURS)]
        points = [(x(i), y(v), v) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                         f'stroke-width="2"/>')
        for px, py, v in points:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{colour}">'
                         f"<title>{escape(name)}: {v:g}</title></circle>")
        ly = top + 14 * k + 6
        parts.append(f'<rect x="{left + pw + 14}" y="{ly - 8}" width="10" height="10" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{left + pw + 30}" y="{ly + 1}" font-size="11" '
                     f'fill="#222">{escape(name)}</text>')
    if chart.empty:
        parts.append(f'<text x="{left + pw / 2:.1f}" y="{top + ph / 2:.1f}" font-size="13" '
                     f'text-anchor="middle" fill="#666">No levels recorded yet</text>')
    parts.append("</svg>")
    return "".join(parts)
