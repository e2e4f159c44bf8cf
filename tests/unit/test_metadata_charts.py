"""Charts in materialization metadata: a real PNG inlined in markdown, with the numbers beside it."""

import base64
import re

from anka_assets.metadata import md_bar_chart


def test_bar_chart_is_a_png_and_a_table_of_the_same_numbers():
    md = md_bar_chart({"doğruluk": {1: 2, 5: 10}, "kültürel uygunluk": {4: 7}}, "Hakem puanları", alt="scores")
    match = re.match(r"!\[scores\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", md)
    assert match, md[:80]
    png = base64.b64decode(match.group(1))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    table = md[match.end():]
    assert "| 1 | 2 | 0 |" in table and "| 4 | 0 | 7 |" in table and "| 5 | 10 | 0 |" in table
