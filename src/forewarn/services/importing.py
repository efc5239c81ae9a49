"""Import an inventory spreadsheet (CSV): check every row first, then write all of it or nothing.

`parse_inventory` is pure: bytes in, validated rows and per-line problems out. `import_assets`
adds what only the database knows (names already taken, which sites exist) and stores the good
rows in one transaction. The accepted columns, aliases and kind synonyms are documented in
docs/importing.md; keep the two in step.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forewarn.domain.inventory import AssetKind, Role
from forewarn.services import audit
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError, conflict, invalid
from forewarn.services.schemas import AssetCreate, ImportReport, ImportRowError
from forewarn.services.scope import Actor, get_org_in_scope
from forewarn.store.models import Asset, AssetTag, Site

MAX_ROWS = 50_000
# A report lists this many problems at most: past that, a person fixes the pattern, not lines.
MAX_LISTED_ERRORS = 1_000
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
# Rows per INSERT batch; also how often the progress callback hears from us.
_CHUNK = 1_000
# Names per IN (...) lookup; well under both engines' bound-parameter limits.
_LOOKUP_CHUNK = 500

FIELDS = (
    "name",
    "kind",
    "hostname",
    "site",
    "criticality",
    "owner",
    "location",
    "purchase_date",
    "warranty_end",
    "tags",
    "notes",
)
REQUIRED = ("name", "kind")

# Other names spreadsheets use for our columns, after _key() normalization.
HEADER_ALIASES: dict[str, str] = {
    "asset": "name",
    "asset_name": "name",
    "type": "kind",
    "asset_type": "kind",
    "host": "hostname",
    "host_name": "hostname",
    "fqdn": "hostname",
    "site_name": "site",
    "assigned_to": "owner",
    "purchased": "purchase_date",
    "purchase": "purchase_date",
    "warranty": "warranty_end",
    "warranty_expires": "warranty_end",
    "warranty_until": "warranty_end",
    "tag": "tags",
    "note": "notes",
    "comment": "notes",
    "comments": "notes",
}

# Everyday words for our kinds. A NAS or a virtual machine is watched like a server (disks,
# services, patches), so that is where they go; "other" stays for what fits nowhere.
KIND_SYNONYMS: dict[str, AssetKind] = {
    "pc": AssetKind.WORKSTATION,
    "desktop": AssetKind.WORKSTATION,
    "desktop_pc": AssetKind.WORKSTATION,
    "notebook": AssetKind.LAPTOP,
    "switch": AssetKind.NETWORK_DEVICE,
    "router": AssetKind.NETWORK_DEVICE,
    "firewall": AssetKind.NETWORK_DEVICE,
    "access_point": AssetKind.NETWORK_DEVICE,
    "nas": AssetKind.SERVER,
    "vm": AssetKind.SERVER,
    "virtual_machine": AssetKind.SERVER,
    "mfp": AssetKind.PRINTER,
    "copier": AssetKind.PRINTER,
    "web_site": AssetKind.WEBSITE,
    "saas": AssetKind.CLOUD_SERVICE,
    "cloud": AssetKind.CLOUD_SERVICE,
}

_DELIMITERS = (",", ";", "\t")
_BOM = b"\xef\xbb\xbf"
_SEPARATORS = re.compile(r"[\s\-]+")
_TAG_SPLIT = re.compile(r"[;|,]")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_SLASHED_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{2,4}$")
_TAG_RULE = "a tag is 1-64 letters, digits and _ . : - starting with a letter or digit"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class InventoryRow:
    """A row that passed every check of the file alone; `site` is a site name, "" for none."""

    line: int
    asset: AssetCreate
    site: str = ""


@dataclass
class ParsedInventory:
    """What a file says: the good rows, and every problem with the line it is on."""

    rows: list[InventoryRow] = field(default_factory=list)
    errors: list[ImportRowError] = field(default_factory=list)
    bad_rows: int = 0
    # field -> the header text as the file spells it, for messages about the file
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Data rows in the file, blank lines not counted."""
        return len(self.rows) + self.bad_rows


@dataclass
class _Columns:
    """Which field each position of the header holds (None: a blank header cell)."""

    fields: list[str | None]
    # field -> the header text as the file spells it, so messages name what the user sees
    header: dict[str, str]

    def label(self, name: str) -> str:
        return self.header.get(name, name)


class _CellError(ValueError):
    """A cell that cannot become a value; the message is shown to the user as it is."""


# ---- parsing: pure ------------------------------------------------------------------------------


def parse_inventory(
    data: bytes, *, org_id: int, max_bytes: int = DEFAULT_MAX_BYTES, max_rows: int = MAX_ROWS
) -> ParsedInventory:
    """Read a CSV inventory and check every row as the API would check a new asset.

    Problems of the whole file (not UTF-8, no header, unknown or missing columns, too big,
    malformed quoting) raise a 422 ServiceError. Problems of single rows are collected in
    the result with their line numbers (the header is line 1 in a file that starts with it).
    """
    check_size(len(data), max_bytes)
    text = _decode(data)
    records = _records(text, sniff_delimiter(text))
    header = next(records, None)
    if header is None:
        raise _file_error(1, "", "the file is empty; its first line must name the columns")
    columns = _read_header(header[0], header[1])
    parsed = ParsedInventory(labels=columns.header)
    first_line_of: dict[str, int] = {}
    for line, cells in records:
        if parsed.total >= max_rows:
            raise _file_error(
                line, "", f"the file has more than {max_rows:,} rows; split it into smaller files"
            )
        row, errors = _check_row(line, cells, columns, org_id)
        name = _cell(cells, columns, "name")
        if name and name in first_line_of:
            errors.append(
                ImportRowError(
                    line=line,
                    column=columns.label("name"),
                    message=f"same name as line {first_line_of[name]}",
                )
            )
        elif name:
            first_line_of[name] = line
        if errors or row is None:
            parsed.errors.extend(errors)
            parsed.bad_rows += 1
        else:
            parsed.rows.append(row)
    if parsed.total == 0:
        raise _file_error(header[0], "", "the file has a header but no rows of assets")
    return parsed


def check_size(size: int, max_bytes: int) -> None:
    """Refuse a file over the configured size before reading it whole."""
    if size > max_bytes:
        raise invalid(
            f"the file is {size:,} bytes; at most {max_bytes:,} bytes can be imported at once "
            "(split it into smaller files)"
        )


def sniff_delimiter(text: str) -> str:
    """The delimiter the header line uses most: comma, semicolon (European Excel) or tab."""
    header = next((line for line in io.StringIO(text, newline="") if line.strip()), "")
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    # max() keeps the first of equals, so a one-column header falls back to the comma.
    return max(_DELIMITERS, key=lambda d: counts[d])


def normalize_kind(value: str) -> AssetKind:
    """An asset kind from how people write it: "Network device", "PC", "notebook"."""
    key = _key(value)
    if key in KIND_SYNONYMS:
        return KIND_SYNONYMS[key]
    try:
        return AssetKind(key)
    except ValueError:
        choices = ", ".join(k.value for k in AssetKind)
        raise _CellError(f"unknown kind {value!r}; use one of: {choices}") from None


def parse_date(value: str) -> date:
    """YYYY-MM-DD or DD.MM.YYYY; slashed dates are refused because 01/02 means two things."""
    if match := _ISO_DATE.match(value):
        year, month, day = match.groups()
    elif match := _DOTTED_DATE.match(value):
        day, month, year = match.groups()
    elif _SLASHED_DATE.match(value):
        raise _CellError(
            f"{value!r} is ambiguous: with slashes, day and month swap places between "
            "countries; write YYYY-MM-DD (e.g. 2024-02-01) or DD.MM.YYYY (e.g. 01.02.2024)"
        )
    else:
        raise _CellError(f"{value!r} is not a date; write YYYY-MM-DD, e.g. 2024-02-01")
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise _CellError(f"{value!r} is not a day of the calendar") from None


def split_tags(value: str) -> list[str]:
    """Tags in one cell, separated by ; | or , (whichever the spreadsheet used)."""
    return [tag.strip() for tag in _TAG_SPLIT.split(value) if tag.strip()]


def _key(text: str) -> str:
    """Case-insensitive, with runs of spaces and hyphens as one underscore."""
    return _SEPARATORS.sub("_", text.strip().lower())


def _decode(data: bytes) -> str:
    # Excel's "CSV UTF-8" starts with a byte order mark; it is not part of the first column name.
    skipped = len(_BOM) if data.startswith(_BOM) else 0
    try:
        return data[skipped:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = skipped + exc.start
        line = data.count(b"\n", 0, offset) + 1
        raise _file_error(
            line,
            "",
            f"the file is not UTF-8 text: byte 0x{data[offset]:02X} at offset {offset} "
            f"(line {line}) is not valid UTF-8; in Excel save as 'CSV UTF-8'",
        ) from None


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, cells) for each non-blank record; quoted cells may span lines."""
    # strict: an unclosed quote is an error, not a cell that silently swallows the next rows.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    ended = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _file_error(
                ended + 1, "", f"line {ended + 1} cannot be read as CSV: {exc} (check its quotes)"
            ) from None
        start, ended = ended + 1, reader.line_num
        if any(cell.strip() for cell in cells):
            yield start, cells


def _read_header(line: int, cells: list[str]) -> _Columns:
    fields: list[str | None] = []
    header: dict[str, str] = {}
    problems: list[ImportRowError] = []
    for cell in cells:
        text = cell.strip()
        name = _key(text) if text else None
        if name is not None and name not in FIELDS:
            name = HEADER_ALIASES.get(name)
            if name is None:
                problems.append(_header_problem(line, text, f"unknown column {text!r}"))
        if name is not None and name in header:
            message = f"columns {header[name]!r} and {text!r} both mean {name!r}"
            problems.append(_header_problem(line, text, message))
        elif name is not None:
            header[name] = text
        fields.append(name)
    for name in REQUIRED:
        if name not in header:
            problems.append(_header_problem(line, name, f"the required column {name!r} is missing"))
    if problems:
        summary = "; ".join(p.message for p in problems)
        raise invalid(
            f"the header row is not usable: {summary}. Accepted columns: {', '.join(FIELDS)}",
            [p.model_dump() for p in problems],
        )
    return _Columns(fields, header)


def _header_problem(line: int, column: str, message: str) -> ImportRowError:
    return ImportRowError(line=line, column=column, message=message)


def _cell(cells: list[str], columns: _Columns, name: str) -> str:
    try:
        return cells[columns.fields.index(name)].strip()
    except IndexError:
        return ""


def _check_row(
    line: int, cells: list[str], columns: _Columns, org_id: int
) -> tuple[InventoryRow | None, list[ImportRowError]]:
    """Convert the cells and validate them with AssetCreate, the API's own rules."""
    values: dict[str, Any] = {"org_id": org_id}
    errors: list[ImportRowError] = []
    failed: set[str] = set()
    if len(cells) > len(columns.fields) and any(c.strip() for c in cells[len(columns.fields) :]):
        errors.append(
            ImportRowError(
                line=line,
                column="",
                message=f"the row has {len(cells)} cells but the header names "
                f"{len(columns.fields)} columns",
            )
        )
    for name, cell in zip(columns.fields, cells, strict=False):
        text = cell.strip()
        if not text:
            continue  # an empty cell means "not given": the field keeps its default
        if name is None:
            errors.append(
                ImportRowError(line=line, column="", message=f"{text!r} is under no column name")
            )
            continue
        try:
            values[name] = _convert(name, text)
        except _CellError as exc:
            errors.append(ImportRowError(line=line, column=columns.label(name), message=str(exc)))
            failed.add(name)
    site = values.pop("site", "")
    try:
        asset = AssetCreate.model_validate(values)
    except ValidationError as exc:
        errors.extend(_explain(line, exc, columns, failed))
        return None, errors
    return (None if errors else InventoryRow(line, asset, site)), errors


def _convert(name: str, text: str) -> Any:
    if name == "kind":
        return normalize_kind(text)
    if name in ("purchase_date", "warranty_end"):
        return parse_date(text)
    if name == "tags":
        return split_tags(text)
    if name == "site":
        return _site_name(text)
    return text


def _site_name(text: str) -> str:
    # The same rules as SiteCreate.name, checked here because the site is made later.
    if len(text) > 200:
        raise _CellError("a site name has at most 200 characters")
    if "\x00" in text:
        raise _CellError("text may not contain NUL characters")
    return text


def _explain(
    line: int, exc: ValidationError, columns: _Columns, failed: set[str]
) -> list[ImportRowError]:
    out = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        if name in failed:
            continue  # already reported by the conversion, with a better message
        column = columns.label(name) if name else ""
        out.append(ImportRowError(line=line, column=column, message=_message(name, error)))
    return out


def _message(name: str, error: ErrorDetails) -> str:
    if error["type"] == "missing":
        return "a value is required; the cell is empty"
    value = error.get("input")
    if name == "tags" and error["type"] == "string_pattern_mismatch":
        return f"tag {value!r} is not valid: {_TAG_RULE}"
    message = error["msg"].removeprefix("Value error, ")
    if isinstance(value, str | int | date) and len(str(value)) <= 80:
        return f"{str(value)!r}: {message}"
    return message


def _file_error(line: int, column: str, message: str) -> ServiceError:
    return invalid(
        message, [ImportRowError(line=line, column=column, message=message).model_dump()]
    )


# ---- importing: the database side ------------------------------------------------------------


def import_assets(
    ctx: Context,
    actor: Actor,
    org_id: int,
    data: bytes,
    *,
    skip_bad: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a CSV inventory into one organization, all rows in one transaction.

    Needs the technician role. With any bad row and not `skip_bad`, nothing is written and a
    422 ServiceError lists every problem (line, column, message). `dry_run` checks against the
    database too and writes nothing. `progress(done, total)` is called as rows are written.
    """
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.TECHNICIAN)
    # Parsed outside the transaction so a large file does not hold the database meanwhile.
    parsed = parse_inventory(data, org_id=org_id, max_bytes=ctx.settings.import_max_bytes)
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, org_id, Role.TECHNICIAN)
        taken = _taken_names(session, org_id, [row.asset.name for row in parsed.rows])
        rows = [row for row in parsed.rows if row.asset.name not in taken]
        clashes = _clashes(parsed.rows, taken, parsed.labels.get("name", "name"))
        errors = sorted(parsed.errors + clashes, key=lambda e: e.line)
        skipped = parsed.total - len(rows)
        if errors and not skip_bad:
            raise _refusal(errors, skipped, parsed.total)
        site_ids, new_sites = _find_sites(session, org_id, [row.site for row in rows if row.site])
        if not dry_run:
            created = _create_sites(session, ctx.clock.now(), org_id, new_sites)
            _insert_assets(
                session, ctx.clock.now(), rows, _spelled(rows, site_ids, created), progress
            )
            if rows:
                _record(session, ctx, actor, org_id, len(rows), skipped, new_sites)
        return ImportReport(
            created=len(rows),
            skipped=skipped,
            rows=parsed.total,
            sites_created=new_sites,
            dry_run=dry_run,
            errors=errors[:MAX_LISTED_ERRORS],
            errors_omitted=max(0, len(errors) - MAX_LISTED_ERRORS),
        )


def _taken_names(session: Session, org_id: int, names: list[str]) -> set[str]:
    """Which of these names the organization's assets already use (compared as stored)."""
    taken: set[str] = set()
    for start in range(0, len(names), _LOOKUP_CHUNK):
        chunk = names[start : start + _LOOKUP_CHUNK]
        stmt = select(Asset.name).where(Asset.org_id == org_id, Asset.name.in_(chunk))
        taken.update(session.scalars(stmt))
    return taken


def _clashes(rows: list[InventoryRow], taken: set[str], column: str) -> list[ImportRowError]:
    return [
        ImportRowError(
            line=row.line,
            column=column,
            message=f"asset {row.asset.name!r} already exists in this organization",
        )
        for row in rows
        if row.asset.name in taken
    ]


def _refusal(errors: list[ImportRowError], bad: int, total: int) -> ServiceError:
    listed = errors[:MAX_LISTED_ERRORS]
    more = f" (the first {len(listed):,} problems are listed)" if len(errors) > len(listed) else ""
    return invalid(
        f"{bad:,} of {total:,} rows have problems, so nothing was imported{more}; fix them, "
        f"or import the {total - bad:,} good rows with skip_bad",
        [e.model_dump() for e in listed],
    )


def _find_sites(
    session: Session, org_id: int, names: list[str]
) -> tuple[dict[str, int], list[str]]:
    """Ids of the named sites that exist, and the names (first spelling) of those that do not.

    Matching ignores case: "hq" in a spreadsheet means the organization's "HQ", not a new site.
    """
    stmt = select(Site.id, Site.name).where(Site.org_id == org_id).order_by(Site.id)
    exact: dict[str, int] = {}
    folded: dict[str, int] = {}
    for site_id, name in session.execute(stmt):
        exact[name] = site_id
        folded.setdefault(name.lower(), site_id)
    found: dict[str, int] = {}
    missing: dict[str, str] = {}
    for name in names:
        known = exact.get(name, folded.get(name.lower()))
        if known is not None:
            found[name] = known
        else:
            missing.setdefault(name.lower(), name)
    return found, list(missing.values())


def _create_sites(session: Session, now: datetime, org_id: int, names: list[str]) -> dict[str, int]:
    """Create the sites; answer their ids keyed by lower-cased name."""
    sites = [Site(org_id=org_id, name=n, created_at=now, updated_at=now) for n in names]
    session.add_all(sites)
    session.flush()
    return {site.name.lower(): site.id for site in sites}


def _spelled(
    rows: list[InventoryRow], found: dict[str, int], created: dict[str, int]
) -> dict[str, int]:
    """Site ids keyed by each spelling the file uses."""
    ids = dict(found)
    for row in rows:
        if row.site and row.site not in ids:
            ids[row.site] = created[row.site.lower()]
    return ids


def _insert_assets(
    session: Session,
    now: datetime,
    rows: list[InventoryRow],
    site_ids: dict[str, int],
    progress: Progress | None,
) -> None:
    """Bulk INSERTs in chunks: one statement per chunk for assets and one for their tags."""
    if progress:
        progress(0, len(rows))
    try:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            values = [_asset_values(row, site_ids, now) for row in chunk]
            stmt = insert(Asset).returning(Asset.id, Asset.name)
            ids = {name: asset_id for asset_id, name in session.execute(stmt, values)}
            tags = [
                {"asset_id": ids[row.asset.name], "tag": tag}
                for row in chunk
                for tag in row.asset.tags
            ]
            if tags:
                session.execute(insert(AssetTag), tags)
            if progress:
                progress(start + len(chunk), len(rows))
    except IntegrityError as exc:
        # Only a concurrent writer can get here: every name was checked in this transaction.
        raise conflict("assets of the same names were added meanwhile; import again") from exc


def _asset_values(row: InventoryRow, site_ids: dict[str, int], now: datetime) -> dict[str, Any]:
    values = row.asset.model_dump(exclude={"tags"})
    if row.site:
        values["site_id"] = site_ids[row.site]
    values["created_at"] = values["updated_at"] = now
    return values


def _record(
    session: Session,
    ctx: Context,
    actor: Actor,
    org_id: int,
    created: int,
    skipped: int,
    sites: list[str],
) -> None:
    # One event for the whole file: thousands of asset.create events would drown the trail.
    audit.record(
        session,
        ctx.clock,
        actor,
        "asset.import",
        entity="asset",
        org_id=org_id,
        after={"created": created, "skipped": skipped, "sites_created": sites},
    )
