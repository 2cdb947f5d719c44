"""Text of the tables: number formats and the Markdown, LaTeX and CSV renderers of one :class:`TextTable`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

import pandas as pd

MISSING = "—"


@dataclass
class TextTable:
    """Formatted cells, with the notes printed under the table and the paragraphs (``intro``, e.g. the verdict)
    printed above it."""

    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    title: str = ""
    intro: list[str] = field(default_factory=list)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def decimals(value: float) -> int:
    """Two decimals for dB-sized numbers (30.12), four for fractions such as SSIM (0.8012)."""
    return 2 if abs(value) >= 1 else 4


def fmt_number(value, places: int | None = None) -> str:
    if not is_number(value):
        return MISSING
    places = decimals(value) if places is None else places
    return f"{value:.{places}f}"


def fmt_estimate(mean: float, ci: float, n: int, inline: bool = False) -> str:
    """``30.12 ± 0.08 (n=3)``: mean ± CI half-width over ``n`` seeds; ``30.12 (n=1)`` for a single seed (no interval,
    never ``± 0``). ``inline``: ``30.12 ± 0.08, n=3``, for a sentence that is already in parentheses."""
    if not n or not is_number(mean):
        return MISSING
    # the interval sets the precision too: a PSNR difference of 0.10 ± 2.33 dB needs no four decimals
    places = decimals(max(abs(mean), ci if is_number(ci) else 0.0))
    count = f", n={n}" if inline else f" (n={n})"
    if n == 1 or not is_number(ci):
        return f"{mean:.{places}f}{count}"
    return f"{mean:.{places}f} ± {ci:.{places}f}{count}"


def fmt_p(p: float) -> str:
    if not is_number(p):
        return MISSING
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_count(value: float, unit: str = "") -> str:
    """Parameters and MACs: 121.8 k, 7.76 M, 562.1 G."""
    if not is_number(value):
        return MISSING
    for scale, suffix in ((1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}{unit}"
    return f"{value:.0f}{unit}"


def to_markdown(table: TextTable) -> str:
    lines = [f"## {table.title}", ""] if table.title else []
    for paragraph in table.intro:
        lines += [paragraph, ""]
    lines.append("| " + " | ".join(_md(c) for c in table.columns) + " |")
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in table.rows]
    if table.notes:
        lines.append("")
        lines += table.notes
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                 "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "|": r"\textbar{}"}
LATEX_UNICODE = {"±": r"$\pm$", "→": r"$\rightarrow$", "−": "$-$", "—": "--", "Δ": r"$\Delta$", "ρ": r"$\rho$",
                 "<": r"$<$", ">": r"$>$", "≥": r"$\geq$", "≤": r"$\leq$",
                 "↑": r"$\uparrow$", "↓": r"$\downarrow$",
                 "λ": r"$\lambda$", "σ": r"$\sigma$", "×": r"$\times$", "·": r"$\cdot$"}


def latex_escape(text: str) -> str:
    out = []
    for char in str(text):
        if char == "\\":
            out.append(r"\textbackslash{}")
        else:
            out.append(LATEX_SPECIAL.get(char) or LATEX_UNICODE.get(char) or char)
    return "".join(out)


def to_latex(table: TextTable) -> str:
    """A booktabs ``tabular`` (needs ``\\usepackage{booktabs}``); notes become a comment under it."""
    spec = "l" * len(table.columns)
    lines = []
    if table.title:
        lines.append(f"% {table.title}")
    lines += [f"% {paragraph}" for paragraph in table.intro]
    lines += [f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
              " & ".join(latex_escape(c) for c in table.columns) + " \\\\", "\\midrule"]
    lines += [" & ".join(latex_escape(c) for c in row) + " \\\\" for row in table.rows]
    lines += ["\\bottomrule", "\\end{tabular}"]
    lines += [f"% {note}" for note in table.notes]
    return "\n".join(lines) + "\n"


def to_csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False)


def to_html(table: TextTable) -> str:
    """A plain HTML table for the report (cells escaped)."""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in table.rows)
    notes = "".join(f"<p class='note'>{escape(n)}</p>" for n in table.notes)
    intro = "".join(f"<p class='verdict'>{escape(p)}</p>" for p in table.intro)
    return f"{intro}<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{notes}"
