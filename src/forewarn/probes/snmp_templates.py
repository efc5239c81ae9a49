"""What SNMP answers mean: pure functions from fetched varbinds to a Result.

Each function takes what a device answered, a mapping of numeric OID (no leading dot) to a
plain value (`int`, `str`, or `None` for noSuchObject / noSuchInstance), and returns a Result.
No I/O and no pysnmp here, so every rule is unit-tested without a device; `snmp.py` fetches.
OIDs are numeric because the standard MIB files are non-free and not installed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

from forewarn.domain.observation import Metric, Result, Status, worst
from forewarn.domain.thresholds import Range, Thresholds

Value = int | str | None

# SNMPv2-MIB system group and HOST-RESOURCES-MIB hrSystemUptime.
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
HR_SYSTEM_UPTIME = "1.3.6.1.2.1.25.1.1.0"

# IF-MIB ifTable and ifXTable columns; append ".ifIndex".
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_IN_OCTETS = "1.3.6.1.2.1.2.2.1.10"
IF_OUT_OCTETS = "1.3.6.1.2.1.2.2.1.16"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"
IF_HC_OUT_OCTETS = "1.3.6.1.2.1.31.1.1.1.10"
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18"
IF_COLUMNS = (
    IF_DESCR,
    IF_NAME,
    IF_ALIAS,
    IF_ADMIN_STATUS,
    IF_OPER_STATUS,
    IF_HC_IN_OCTETS,
    IF_HC_OUT_OCTETS,
    IF_IN_OCTETS,
    IF_OUT_OCTETS,
)

# HOST-RESOURCES-MIB hrStorageEntry: type .2, descr .3, allocation units .4, size .5, used .6.
HR_STORAGE_ENTRY = "1.3.6.1.2.1.25.2.3.1"
HR_STORAGE_FIXED_DISK = "1.3.6.1.2.1.25.2.1.4"

# Printer-MIB prtMarkerSuppliesEntry: class .4, description .6, max capacity .8, level .9.
PRT_SUPPLIES_ENTRY = "1.3.6.1.2.1.43.11.1.1"
_PRT_CLASS, _PRT_DESCR, _PRT_MAX, _PRT_LEVEL = 4, 6, 8, 9
_PRT_RECEPTACLE = 4  # receptacleThatIsFilled (a waste toner box): full is the problem

# UPS-MIB scalars.
UPS_BATTERY_STATUS = "1.3.6.1.2.1.33.1.2.1.0"
UPS_MINUTES_REMAINING = "1.3.6.1.2.1.33.1.2.3.0"
UPS_CHARGE_REMAINING = "1.3.6.1.2.1.33.1.2.4.0"
UPS_OUTPUT_SOURCE = "1.3.6.1.2.1.33.1.4.1.0"
UPS_OIDS = (UPS_BATTERY_STATUS, UPS_MINUTES_REMAINING, UPS_CHARGE_REMAINING, UPS_OUTPUT_SOURCE)

UPTIME_OIDS = (HR_SYSTEM_UPTIME, SYS_UPTIME, SYS_DESCR, SYS_NAME)

TEMPLATES = ("interface", "printer_supplies", "ups", "storage", "uptime")
# Default (warn, crit) per template. Storage alerts above its range; the others below.
DEFAULT_THRESHOLDS: dict[str, tuple[str | None, str | None]] = {
    "printer_supplies": ("10:", "3:"),
    "ups": ("50:", "20:"),
    "storage": ("85", "95"),
    "uptime": (None, None),
    "interface": (None, None),
}
# For these a bare number means "alert below it": a supply at 10 %, a battery at 50 %, a
# device up for less than 3600 s. Nagios would read `10` as "alert above 10", never meant here.
LOW_IS_BAD = frozenset({"printer_supplies", "ups", "uptime"})

MAX_LISTED = 5  # problems named in a one-line message before "and N more"
MAX_WALK_METRICS = 100


# --- small helpers ------------------------------------------------------------------------


def template_range(template: str, text: str | None) -> str | None:
    """A user's threshold for a template, with a bare number read the template's way."""
    if text is None:
        return None
    t = text.strip()
    if template in LOW_IS_BAD and _is_number(t):
        return f"{t}:"
    return t


def template_thresholds(template: str, warn: str | None, crit: str | None) -> Thresholds:
    """The template's defaults, each replaced by the user's range when one was given."""
    dwarn, dcrit = DEFAULT_THRESHOLDS.get(template, (None, None))
    w = template_range(template, warn) if warn is not None else dwarn
    c = template_range(template, crit) if crit is not None else dcrit
    return Thresholds.parse(w, c)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def number(value: Value) -> float | None:
    """The value as a number: an integer, or a string such as "0.42" (UCD laLoad); else None."""
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str):
        try:
            v = float(value.strip())
        except ValueError:
            return None
        return v if math.isfinite(v) else None
    return None


def fmt(x: float) -> str:
    """A number for people: no `.0` on integers, at most two decimals otherwise."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _range_text(r: Range | None) -> str | None:
    return None if r is None else r.text


def _metric(
    name: str, value: float, unit: str, th: Thresholds | None = None, **kw: float
) -> Metric:
    return Metric(
        name,
        value,
        unit,
        warn=_range_text(th.warn) if th else None,
        crit=_range_text(th.crit) if th else None,
        min=kw.get("min"),
        max=kw.get("max"),
    )


def table(rows: Mapping[str, Value], entry: str) -> dict[str, dict[int, Value]]:
    """Rows of a walked table entry: {row index: {column number: value}}, in walk order."""
    prefix = entry + "."
    out: dict[str, dict[int, Value]] = {}
    for oid, value in rows.items():
        if not oid.startswith(prefix):
            continue
        column, _, index = oid[len(prefix) :].partition(".")
        if not column.isdigit() or not index:
            continue
        out.setdefault(index, {})[int(column)] = value
    return out


def _unique(name: str, seen: set[str], index: str) -> str:
    """Metric names must be unique: a second "Toner" becomes "Toner (1.2)"."""
    name = name.strip() or f"#{index}"
    if name in seen:
        name = f"{name} ({index})"
    seen.add(name)
    return name


def summarize(rows: Iterable[tuple[Status, str]], noun: tuple[str, str]) -> tuple[Status, str, str]:
    """Overall status, a one-line message naming the rows that are not OK, and details.

    The message lists problem rows worst first ("Black 2 % (critical), Cyan 8 % (warning)");
    when all are OK it lists the first few rows. Details hold every row, one per line.
    """
    items = list(rows)
    one, many = noun
    if not items:
        return Status.UNKNOWN, f"no {many} found", ""
    status = worst(*(s for s, _ in items))
    rank = {Status.CRITICAL: 0, Status.WARNING: 1, Status.UNKNOWN: 2, Status.OK: 3}
    problems = sorted((r for r in items if r[0] is not Status.OK), key=lambda r: rank[r[0]])
    details = "\n".join(f"{s.name} {text}" for s, text in items)
    if not problems:
        shown = ", ".join(text for _, text in items[:MAX_LISTED])
        more = f", and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
        return status, f"{_count(len(items), one, many)} ok: {shown}{more}", details
    shown = ", ".join(f"{text} ({s.label})" for s, text in problems[:MAX_LISTED])
    if len(problems) > MAX_LISTED:
        shown += f", and {len(problems) - MAX_LISTED} more"
    ok = len(items) - len(problems)
    tail = f"; {ok} other {one if ok == 1 else many} ok" if ok else ""
    return status, f"{shown}{tail}", details


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _show(value: Value) -> str:
    return repr(value) if isinstance(value, str) else str(value)


# --- one OID and a walk ---------------------------------------------------------------------


def evaluate_value(
    oid: str,
    value: Value,
    thresholds: Thresholds,
    expect: str | None = None,
    label: str | None = None,
) -> Result:
    """A GET of one OID: thresholds on a number, `expect` on the text, else report it."""
    if value is None:
        return Result(Status.UNKNOWN, f"OID {oid} not found on device")
    name = label or "value"
    shown = f"{label or oid} = {_show(value)}"
    if expect is not None:
        text = str(value)
        if text != expect:
            return Result(Status.CRITICAL, f"{shown}, expected {expect!r}")
        status, msg = Status.OK, shown
    else:
        status, msg = Status.OK, shown
    num = number(value)
    metrics: tuple[Metric, ...] = ()
    if num is not None:
        th_status = thresholds.status(num)
        status = worst(status, th_status)
        metrics = (_metric(name, num, "", thresholds),)
        if th_status is not Status.OK:
            msg += _outside(thresholds, th_status)
    elif thresholds.warn or thresholds.crit:
        return Result(Status.UNKNOWN, f"{shown} is not a number, cannot apply thresholds")
    return Result(status, msg, metrics)


def _outside(th: Thresholds, status: Status) -> str:
    r = th.crit if status is Status.CRITICAL else th.warn
    return f" (outside {status.label} range {r})" if r is not None else ""


def evaluate_walk(
    base: str,
    rows: Mapping[str, Value],
    thresholds: Thresholds,
    label: str | None = None,
) -> Result:
    """A walk: thresholds on every numeric row, the worst row wins, offending rows named."""
    if not rows:
        return Result(Status.UNKNOWN, f"OID {base} not found on device (the walk returned nothing)")
    checked: list[tuple[Status, str]] = []
    metrics: list[Metric] = []
    for oid, value in rows.items():
        num = number(value)
        if num is None:
            continue
        suffix = oid[len(base) + 1 :] if oid.startswith(base + ".") else oid
        name = f"{label}.{suffix}" if label else suffix
        checked.append((thresholds.status(num), f"{oid} = {fmt(num)}"))
        if len(metrics) < MAX_WALK_METRICS:
            metrics.append(_metric(name, num, "", thresholds))
    if not checked:
        if thresholds.warn or thresholds.crit:
            return Result(
                Status.UNKNOWN,
                f"no numeric values under {base} ({len(rows)} rows), cannot apply thresholds",
            )
        first = next(iter(rows.items()))
        shown = f"first {first[0]} = {_show(first[1])}"
        return Result(Status.OK, f"{_count(len(rows), 'row', 'rows')} under {base}, {shown}")
    status, message, details = summarize(checked, ("row", "rows"))
    return Result(status, message, tuple(metrics), details)


# --- interface ------------------------------------------------------------------------------

_OPER = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent"}
_OPER[7] = "lowerLayerDown"


def find_interface(
    wanted: str, descrs: Mapping[str, Value], names: Mapping[str, Value]
) -> str | None:
    """The ifIndex whose ifDescr, else ifName, is `wanted`: exact first, then in any case."""
    for column, prefix in ((descrs, IF_DESCR), (names, IF_NAME)):
        for exact in (True, False):
            for oid, value in column.items():
                if not isinstance(value, str) or not oid.startswith(prefix + "."):
                    continue
                same = value == wanted if exact else value.casefold() == wanted.casefold()
                if same:
                    return oid[len(prefix) + 1 :]
    return None


def interface_names(descrs: Mapping[str, Value]) -> str:
    """The interfaces a device has, for "not found (have: lo, eth0)"."""
    names = [v for v in descrs.values() if isinstance(v, str)]
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    return shown or "none"


def evaluate_interface(index: str, answers: Mapping[str, Value]) -> Result:
    """ifOperStatus up is OK, down CRITICAL, anything else WARNING; octet counters as metrics."""

    def col(column: str) -> Value:
        return answers.get(f"{column}.{index}")

    oper = col(IF_OPER_STATUS)
    descr = col(IF_DESCR)
    if not isinstance(oper, int):
        return Result(Status.UNKNOWN, f"interface with ifIndex {index} not found on device")
    name = col(IF_NAME) or descr or f"ifIndex {index}"
    alias = col(IF_ALIAS)
    who = f"{name} ({alias})" if alias else str(name)
    state = _OPER.get(oper, f"status {oper}")
    status = {1: Status.OK, 2: Status.CRITICAL}.get(oper, Status.WARNING)
    message = f"{who} is {state}"
    if oper != 1 and col(IF_ADMIN_STATUS) == 2:
        message += " (administratively down)"
    metrics: list[Metric] = []
    for metric, hc, low in (
        ("in_octets", IF_HC_IN_OCTETS, IF_IN_OCTETS),
        ("out_octets", IF_HC_OUT_OCTETS, IF_OUT_OCTETS),
    ):
        # 64-bit counters when the device has them; the 32-bit ones wrap in 34 s at 1 Gbit/s.
        value = col(hc)
        if not isinstance(value, int):
            value = col(low)
        if isinstance(value, int):
            metrics.append(Metric(metric, float(value), "c"))
    return Result(status, message, tuple(metrics))


# --- printer supplies -----------------------------------------------------------------------


def evaluate_printer_supplies(rows: Mapping[str, Value], thresholds: Thresholds) -> Result:
    """Each supply's level as a percent of its capacity, thresholds on what is left.

    Printer-MIB special levels: -3 "some remaining" is OK (the printer cannot say how much),
    -2 unknown and -1 other cannot be judged and count as UNKNOWN rows. A receptacle (a waste
    toner box) fills up, so the percent judged there is the room left in it.
    """
    supplies = table(rows, PRT_SUPPLIES_ENTRY)
    checked: list[tuple[Status, str]] = []
    metrics: list[Metric] = []
    seen: set[str] = set()
    for index, cols in supplies.items():
        level, cap = cols.get(_PRT_LEVEL), cols.get(_PRT_MAX)
        if not isinstance(level, int):
            continue
        descr = cols.get(_PRT_DESCR)
        name = _unique(descr if isinstance(descr, str) else "", seen, index)
        if level == -3:
            checked.append((Status.OK, f"{name} some remaining (level not reported)"))
            continue
        if level < 0 or not isinstance(cap, int) or cap <= 0:
            why = "level cannot be read" if level < 0 else f"level {level} of unknown capacity"
            checked.append((Status.UNKNOWN, f"{name} {why}"))
            continue
        percent = min(100.0, 100.0 * level / cap)
        if cols.get(_PRT_CLASS) == _PRT_RECEPTACLE:
            left = 100.0 - percent
            checked.append((thresholds.status(left), f"{name} {fmt(round(percent, 1))} % full"))
            metrics.append(_metric(f"{name} free", round(left, 2), "%", thresholds, min=0, max=100))
            continue
        checked.append((thresholds.status(percent), f"{name} {fmt(round(percent, 1))} %"))
        metrics.append(_metric(name, round(percent, 2), "%", thresholds, min=0, max=100))
    if not checked:
        return Result(
            Status.UNKNOWN, "no printer supplies found (Printer-MIB prtMarkerSuppliesTable)"
        )
    status, message, details = summarize(checked, ("supply", "supplies"))
    return Result(status, message, tuple(metrics), details)


# --- UPS ------------------------------------------------------------------------------------

_BATTERY = {
    1: (Status.UNKNOWN, "battery status unknown"),
    2: (Status.OK, "battery normal"),
    3: (Status.CRITICAL, "battery low"),
    4: (Status.CRITICAL, "battery depleted"),
}
_OUTPUT = {
    2: (Status.CRITICAL, "output off, the load has no power"),
    4: (Status.WARNING, "on bypass, the load is unprotected"),
    5: (Status.WARNING, "on battery"),
}


def evaluate_ups(answers: Mapping[str, Value], thresholds: Thresholds) -> Result:
    """UPS-MIB: battery status, output source (on battery is a WARNING), charge thresholds."""
    battery = answers.get(UPS_BATTERY_STATUS)
    if not isinstance(battery, int):
        return Result(Status.UNKNOWN, "no UPS-MIB on device (upsBatteryStatus not found)")
    status, text = _BATTERY.get(battery, (Status.UNKNOWN, f"battery status {battery}"))
    parts = [text]
    source = answers.get(UPS_OUTPUT_SOURCE)
    if isinstance(source, int) and source in _OUTPUT:
        s, t = _OUTPUT[source]
        status = worst(status, s)
        parts.insert(0, t)
    metrics: list[Metric] = []
    charge = answers.get(UPS_CHARGE_REMAINING)
    if isinstance(charge, int):
        s = thresholds.status(charge)
        status = worst(status, s)
        parts.append(f"charge {charge} %" + (f" ({s.label})" if s is not Status.OK else ""))
        metrics.append(_metric("charge", float(charge), "%", thresholds, min=0, max=100))
    minutes = answers.get(UPS_MINUTES_REMAINING)
    if isinstance(minutes, int):
        parts.append(f"{minutes} min remaining")
        metrics.append(Metric("minutes_remaining", float(minutes), "", min=0))
    return Result(status, ", ".join(parts), tuple(metrics))


# --- storage --------------------------------------------------------------------------------


def _unsigned(value: int) -> int:
    # hrStorageSize/Used are Integer32; some agents let big volumes wrap negative.
    return value + 2**32 if value < 0 else value


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{fmt(round(n, 1))} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def evaluate_storage(rows: Mapping[str, Value], thresholds: Thresholds, name: str | None) -> Result:
    """Used percent of each storage in hrStorageTable.

    Without a `name` only fixed disks are checked (RAM, swap and the page cache are not
    "full" in a way that needs someone); with one, every storage whose description matches
    it (shell wildcards allowed: "/var*") is, whatever its type.
    """
    storages = table(rows, HR_STORAGE_ENTRY)
    checked: list[tuple[Status, str]] = []
    metrics: list[Metric] = []
    seen: set[str] = set()
    for index, cols in storages.items():
        descr = cols.get(3)
        descr = descr if isinstance(descr, str) else f"#{index}"
        if name is not None:
            if not fnmatchcase(descr, name):
                continue
        elif cols.get(2) != HR_STORAGE_FIXED_DISK:
            continue
        units, size, used = cols.get(4), cols.get(5), cols.get(6)
        if not (isinstance(units, int) and isinstance(size, int) and isinstance(used, int)):
            continue
        size, used = _unsigned(size), _unsigned(used)
        if size <= 0:
            continue  # pseudo file systems report no size
        percent = 100.0 * used / size
        label = _unique(descr, seen, index)
        amount = f"{_size(used * units)} of {_size(size * units)}"
        text = f"{label} {fmt(round(percent, 1))} % used ({amount})"
        checked.append((thresholds.status(percent), text))
        metrics.append(_metric(label, round(percent, 2), "%", thresholds, min=0, max=100))
    if not checked:
        what = f"matching {name!r}" if name is not None else "of type fixed disk"
        return Result(Status.UNKNOWN, f"no storage {what} found in hrStorageTable")
    status, message, details = summarize(checked, ("storage", "storages"))
    return Result(status, message, tuple(metrics), details)


# --- uptime ---------------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d} d {h} h"
    if h:
        return f"{h} h {m} min"
    if m:
        return f"{m} min {s} s"
    return f"{s} s"


def evaluate_uptime(answers: Mapping[str, Value], thresholds: Thresholds) -> Result:
    """How long the device has been up, with its name and description in the message.

    hrSystemUptime (the host's uptime) is preferred when the device has it: sysUpTime counts
    from the SNMP agent's own start, so a restarted agent would look like a reboot.
    """
    ticks = answers.get(HR_SYSTEM_UPTIME)
    source = "hrSystemUptime"
    if not isinstance(ticks, int):
        ticks, source = answers.get(SYS_UPTIME), "sysUpTime"
    if not isinstance(ticks, int):
        return Result(Status.UNKNOWN, f"OID {SYS_UPTIME} (sysUpTime) not found on device")
    seconds = ticks / 100
    status = thresholds.status(seconds)
    message = f"up {_duration(seconds)}"
    if status is not Status.OK:
        r = thresholds.crit if status is Status.CRITICAL else thresholds.warn
        recent = r is not None and not r.inside and seconds < r.low
        message += (" (rebooted recently)" if recent else "") + _outside(thresholds, status)
    who = [
        v.strip().splitlines()[0]
        for v in (answers.get(SYS_NAME), answers.get(SYS_DESCR))
        if isinstance(v, str) and v.strip()
    ]
    if who:
        message += " - " + ": ".join(who)
    details = f"uptime from {source}: {seconds:.2f} s"
    return Result(status, message, (_metric("uptime", seconds, "s", thresholds, min=0),), details)
