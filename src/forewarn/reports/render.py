"""Reports as documents: JSON in, HTML out (Jinja2), PDF from that HTML (WeasyPrint).

One environment for every report template (reports/templates/), autoescaped; charts come in
as SVG strings from reports.charts and are marked safe by the caller that made them. The
PDF is the HTML printed, so what a user downloads is what the page shows.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from forewarn.reports.formatting import FILTERS


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("forewarn.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Numbers print one way in every report: {{ x | number }}, | percent, | duration, | money.
    env.filters.update(FILTERS)
    return env


def render_html(template: str, **data: Any) -> str:
    return environment().get_template(template).render(**data)


# One PDF printed at a time in a process: WeasyPrint is not documented as thread-safe, and
# PDFs are printed from request threads (downloads) and the notification senders (reports
# attached to e-mail) alike.
_PRINTING = threading.Lock()


def html_to_pdf(html: str) -> bytes:
    """Print the HTML to PDF. Imported late: WeasyPrint loads Pango, which the API's other
    pages never need."""
    import weasyprint
    from weasyprint.urls import URLFetcher

    # A report loads nothing from outside itself: inline data: URLs only, so a name or note
    # typed by a user can never make the server fetch an address or read a file.
    fetcher = URLFetcher(allowed_protocols=["data"], allow_redirects=False)
    with _PRINTING:
        pdf: bytes = weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
    return pdf
