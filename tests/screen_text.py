"""What a terminal screen shows, as plain lines: read from the app's own SVG screenshot (a
public Textual API), so a test can look for words the way a person scanning it would."""

from __future__ import annotations

import html
import re

_TEXT = re.compile(r'<text[^>]*\sx="([\d.]+)"[^>]*\sy="([\d.]+)"[^>]*>(.*?)</text>', re.S)


def screen_text(app) -> str:
    """The lines of APP's current screen (modal dialogs included), top to bottom."""
    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = {}
    for x, y, body in _TEXT.findall(svg):
        rows.setdefault(float(y), []).append((float(x), html.unescape(re.sub(r"<[^>]+>", "", body))))
    return "\n".join(
        "".join(part for _, part in sorted(parts)).replace("\xa0", " ").rstrip() for _, parts in sorted(rows.items())
    )
