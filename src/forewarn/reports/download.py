"""How a report leaves the server as a file: the same headers from the API and the dashboard."""

from __future__ import annotations

# A downloaded report is a document, not a page of the app: it runs nothing and loads
# nothing but its own inline styles and data: images, even when opened in a browser.
DOCUMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

MEDIA_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


def headers(file_name: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{file_name}"',
        "Content-Security-Policy": DOCUMENT_CSP,
        "X-Content-Type-Options": "nosniff",
    }
