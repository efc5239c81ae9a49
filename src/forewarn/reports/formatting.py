"""Numbers as a report prints them: thousands separators, percentages, durations, money.

Pure: the same value always reads the same, so a test can read a figure back out of a PDF
and compare it with the JSON it came from.
"""

from __future__ import annotations

# Symbols for the currencies clients use most; any other prints its ISO code.
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥"}
NONE = "—"


def number(value: float | None, decimals: int = 0) -> str:
    """12,345 or 12,345.6; a dash when there is no figure."""
    if value is None:
        return NONE
    return f"{value:,.{decimals}f}"


def percent(value: float | None, decimals: int = 1) -> str:
    """A percentage given as 0-100: '99.5 %'; 100 and 0 print without decimals."""
    if value is None:
        return NONE
    if value in (0, 100):
        return f"{value:.0f} %"
    return f"{value:,.{decimals}f} %"


def share(ratio: float | None) -> str:
    """A share given as 0-1, as a whole percentage: '50 %'."""
    return NONE if ratio is None else f"{round(ratio * 100):d} %"


def duration(seconds: float | None) -> str:
    """'45 s', '6 min', '2 h 10 min', '3 d 4 h': two units at most, rounded down."""
    if seconds is None:
        return NONE
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    minutes = s // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days:,} d {hours} h" if hours else f"{days:,} d"


def money(amount: float | None, currency: str) -> str:
    """'$12,345', '€1,200', 'CHF 900': whole units, thousands separated."""
    if amount is None:
        return NONE
    sign = "-" if amount < 0 else ""
    whole = f"{abs(amount):,.0f}"
    symbol = _SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{whole}" if symbol else f"{sign}{currency.upper()} {whole}"


FILTERS = {
    "number": number,
    "percent": percent,
    "share": share,
    "duration": duration,
    "money": money,
}
