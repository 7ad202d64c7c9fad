"""The one report toolkit: a ``Doc`` built as HTML and Markdown side by side, tables, embedded figures,
number / percentage / Wilson-interval formatting, and ``write_doc`` (a self-contained HTML page, inline
CSS, figures as base64 data URIs, plus its Markdown twin, written atomically).

Used by every report of the bench: the closed-loop report (``eval.report``), ``eval.compare``,
``eval.sim2real`` and ``eval.data_gap_report``.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from common.files import atomic_write_text
from eval import metrics


class Html(str):
    """A string that is already HTML (not escaped again by ``html_table``)."""


def esc(value: Any) -> str:
    """HTML-escape ``value`` unless it is ``Html``."""
    return value if isinstance(value, Html) else html.escape(str(value))


def fmt_num(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals, ``"—"`` for ``None``."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def fmt_pct(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage (``0.8`` → ``"80.0 %"``), ``"—"`` for ``None``."""
    return "—" if value is None else f"{100.0 * float(value):.{digits}f} %"


def fmt_interval(interval: Sequence[float] | None, digits: int = 1) -> str:
    """``[lo, hi]`` fractions as ``"[49.0, 94.3] %"``."""
    if not interval:
        return "—"
    lo, hi = interval
    return f"[{100.0 * float(lo):.{digits}f}, {100.0 * float(hi):.{digits}f}] %"


def fmt_rate(successes: int, trials: int, interval: Sequence[float] | None = None) -> str:
    """``"8/10 = 80.0 % [49.0, 94.3] %"`` (Wilson 95 % computed when ``interval`` is not given)."""
    if trials == 0:
        return f"0/0 (no episodes) {fmt_interval((0.0, 1.0))}"
    interval = interval or metrics.wilson_interval(successes, trials)
    return f"{successes}/{trials} = {fmt_pct(successes / trials)} {fmt_interval(interval)}"


def slug(name: str) -> str:
    """A file-name-safe version of a scenario or policy name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("_") or "unnamed"


def md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(md_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def text_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], indent: str = "") -> list[str]:
    """Lines of a fixed-width plain-text table (columns left-aligned, two spaces apart)."""
    table = [[str(c) for c in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]


def html_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> Html:
    """An HTML table; cells are escaped unless they are ``Html``."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>\n" for row in rows)
    cls_attr = f' class="{esc(cls)}"' if cls else ""
    return Html(f"<table{cls_attr}><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>\n")


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def img_tag(png_path: str | Path, alt: str) -> Html:
    """An ``<img>`` with the PNG at ``png_path`` embedded as a base64 data URI."""
    return Html(f'<img alt="{esc(alt)}" src="{data_uri(Path(png_path).read_bytes(), "image/png")}">')


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}
.headline{font-size:1.25em;margin:.4em 0}.ok{color:#2e7d32;font-weight:600}.bad{color:#c62828;font-weight:600}
.warn{color:#ef6c00;font-weight:600}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}figcaption{font-size:.85em;color:#555}
img,video{max-width:100%}pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:.8em}
"""


def html_page(title: str, body: str) -> str:
    """A complete, self-contained HTML document (inline CSS, no external references)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


class Doc:
    """Builds the HTML body and the Markdown text of one report side by side."""

    def __init__(self) -> None:
        self.html: list[str] = []
        self.md: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.html.append(f"<h{level}>{esc(text)}</h{level}>")
        self.md.append(f"{'#' * level} {text}\n")

    def para(self, text: str, html_text: str | None = None) -> None:
        """A paragraph: ``text`` is Markdown-ish plain text; ``html_text`` overrides the HTML."""
        self.html.append(f"<p>{html_text if html_text is not None else esc(text)}</p>")
        self.md.append(text + "\n")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        rows = [list(r) for r in rows]
        self.html.append(html_table(headers, rows))
        self.md.append(md_table(headers, [[str(c) for c in r] for r in rows]))

    def figure(self, png: Path, caption: str, md_link: str) -> None:
        self.html.append(f"<figure>{img_tag(png, caption)}<figcaption>{esc(caption)}</figcaption></figure>")
        self.md.append(f"![{caption}]({md_link})\n")

    def raw(self, html_text: str, md_text: str = "") -> None:
        self.html.append(html_text)
        if md_text:
            self.md.append(md_text)

    def note(self, text: str, cls: str) -> None:
        """A one-line marked paragraph (``cls``: ``ok``, ``bad`` or ``warn``, the page's colours); a list
        item in Markdown."""
        self.raw(f'<p><span class="{esc(cls)}">{esc(text)}</span></p>', f"- {text}\n")


def write_doc(doc: Doc, out_dir: str | Path, stem: str, title: str, markdown: bool = True) -> dict[str, Path]:
    """Write ``doc`` as ``out_dir/<stem>.html`` (a complete page titled ``title``) and, with ``markdown``,
    ``out_dir/<stem>.md``; atomically. Returns ``{"html": path, "md": path}`` (``md`` only if written)."""
    out_dir = Path(out_dir)
    paths = {"html": atomic_write_text(out_dir / f"{stem}.html", html_page(title, "\n".join(doc.html)))}
    if markdown:
        paths["md"] = atomic_write_text(out_dir / f"{stem}.md", "\n".join(doc.md))
    return paths


def compress_ints(values: Iterable[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` → ``"0–2, 5, 7–8"``."""
    nums = sorted(set(int(v) for v in values))
    parts: list[str] = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        parts.append(str(nums[i]) if i == j else f"{nums[i]}–{nums[j]}")
        i = j + 1
    return ", ".join(parts)
