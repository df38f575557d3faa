"""HTML-only mail reduced to plain text, so NLU and agents see words, not markup.

Quoted history that mail clients wrap in <blockquote> (Apple Mail, Thunderbird, Gmail's
`gmail_quote`) comes out prefixed with "> ", the same shape plain-text clients use, so
`clean.py` strips both the same way.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements whose contents are never text a person wrote to us.
_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "object"})
# Elements that start and end a line of their own.
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "thead",
    "tfoot", "tr", "ul",
})
# Blocks that end a paragraph: a blank line follows them, as a reader would see.
_PARAGRAPH = frozenset({
    "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "ol", "p", "pre", "table", "ul",
})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr"})


class _Reducer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._skip_depth = 0
        self._quote_depth = 0
        self._pre_depth = 0
        self._gmail_quote_divs: list[bool] = []  # per open <div>: did it open a gmail_quote?

    # <br> always ends a line, even an empty one (<br><br> is a blank line); a block boundary
    # ends a line only if it has text, so nested <div>s do not pile up blank lines.
    def _break(self, *, keep_empty: bool = False) -> None:
        text = "".join(self._line)
        if not self._pre_depth:
            text = re.sub(r"[ \t\r\n\f\u00a0]+", " ", text).strip()
        self._line = []
        if not text and not keep_empty:
            return
        prefix = "> " * self._quote_depth
        self.lines.append(prefix + text if text else prefix.rstrip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
            return
        if tag == "br":
            self._break(keep_empty=True)
        elif tag in _BLOCK:
            self._break()
        if tag == "blockquote":
            self._quote_depth += 1
        elif tag == "div":
            # Gmail wraps quoted history in <div class="gmail_quote"> without a blockquote
            # around the "On … wrote:" attribution line; treat the whole div as quoted.
            classes = (dict(attrs).get("class") or "").split()
            opens = "gmail_quote" in classes
            self._gmail_quote_divs.append(opens)
            if opens:
                self._quote_depth += 1
        elif tag == "pre":
            self._pre_depth += 1
        elif tag in {"td", "th"} and self._line:
            self._line.append(" ")
        elif tag == "li":
            self._line.append("- ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._line.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and <img/>: a void element never has an end tag to balance.
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag in _BLOCK:
            self._break()
        if tag == "blockquote":
            self._quote_depth = max(0, self._quote_depth - 1)
        elif tag == "div" and self._gmail_quote_divs:
            if self._gmail_quote_divs.pop():
                self._quote_depth = max(0, self._quote_depth - 1)
        elif tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag in _PARAGRAPH:
            self._break(keep_empty=True)

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self._line.append(data)

    def finish(self) -> str:
        self.close()
        self._break()
        out: list[str] = []
        for line in self.lines:
            if not line.strip(" >") and out and out[-1] == line.rstrip():
                continue  # collapse runs of blank lines at one quote depth
            out.append(line.rstrip())
        return "\n".join(out).strip("\n")


def html_to_text(html: str) -> str:
    """Reduce an HTML body to text: scripts and styles dropped, blocks on their own lines,
    entities unescaped, blockquotes as "> " lines."""
    reducer = _Reducer()
    reducer.feed(html)
    return reducer.finish()
