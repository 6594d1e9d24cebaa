"""HTML mail bodies as plain text, with the stdlib parser. Nothing is rendered or fetched.

Table cells are kept apart. A simple table whose first row names its columns (no digits in it)
becomes one `Name: value` line per cell, so a reading typed into a table ("Zähler | Stand" over
"GAS-0815 | 4.630,500") reads as it would in a plain-text mail ("Stand: 4.630,500"). A table
holding another table is layout: each of its cells gives its own lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_SKIP = {"script", "style", "head", "title", "noscript", "template", "svg", "object", "iframe"}
_BLOCK = {
    "br", "p", "div", "tr", "li", "ul", "ol", "table", "blockquote", "pre", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer",
}  # fmt: skip
_CELLS = {"td", "th"}
MAX_HTML_CHARS = 2_000_000


@dataclass
class _Table:
    rows: list[list[str]] = field(default_factory=list)
    cell: list[str] | None = None  # the open cell's text
    nested: bool = False  # holds another table: a layout table

    def close_cell(self) -> None:
        if self.cell is None:
            return
        if not self.rows:
            self.rows.append([])
        lines = "".join(self.cell).split("\n")
        self.rows[-1].append("\n".join(" ".join(line.split()) for line in lines if line.strip()))
        self.cell = None

    def text(self) -> str:
        self.close_cell()
        rows = [row for row in self.rows if any(row)]
        if self.nested:
            return "\n" + "\n".join(cell for row in rows for cell in row if cell) + "\n"
        flat = [[" ".join(cell.split()) for cell in row] for row in rows]
        header = flat[0] if flat else []
        named = (
            len(flat) >= 2
            and len(header) >= 2
            and all(header)
            and all(len(row) == len(header) for row in flat)
            and not any(ch.isdigit() for cell in header for ch in cell)
        )
        if named:
            pairs = (zip(header, row, strict=True) for row in flat[1:])
            lines = [f"{name}: {value}" for row in pairs for name, value in row if value]
        else:
            lines = [" ".join(cell for cell in row if cell) for row in flat]
        return "\n" + "\n".join(lines) + "\n"


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._tables: list[_Table] = []

    def _emit(self, text: str) -> None:
        if not self._tables:
            self.parts.append(text)
        elif self._tables[-1].cell is not None:
            self._tables[-1].cell.append(text)
        # text between a table's cells (whitespace, stray words) is no content

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
        elif tag == "table":
            if self._tables:
                self._tables[-1].nested = True
            self._tables.append(_Table())
        elif self._tables and tag == "tr":
            self._tables[-1].close_cell()
            self._tables[-1].rows.append([])
        elif self._tables and tag in _CELLS:
            self._tables[-1].close_cell()
            self._tables[-1].cell = []
        elif tag in _BLOCK:
            self._emit("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self._emit("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag == "table" and self._tables:
            self._emit_table(self._tables.pop())
        elif self._tables and tag in _CELLS | {"tr"}:
            self._tables[-1].close_cell()
        elif tag in _BLOCK:
            self._emit("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self._emit(data)

    def _emit_table(self, table: _Table) -> None:
        text = table.text()
        if not self._tables:
            self.parts.append(text)
            return
        outer = self._tables[-1]
        if outer.cell is None:
            outer.cell = []  # a table straight inside a row: a cell of its own
        outer.cell.append(text)

    def finish(self) -> None:
        """Tables a broken document left open still count."""
        while self._tables:
            self._emit_table(self._tables.pop())


def html_to_text(html: str) -> str:
    """Visible text of an HTML document; script/style dropped, whitespace tidied."""
    collector = _TextCollector()
    try:
        collector.feed(html[:MAX_HTML_CHARS])
        collector.close()
    except (AssertionError, ValueError):  # the stdlib parser gives up on some garbage
        pass
    collector.finish()
    text = "".join(collector.parts).replace("\xa0", " ")
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
