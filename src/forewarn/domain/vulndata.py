"""Reading vulnerability data as published: OSV ecosystem zips, CISA's KEV JSON, EPSS CSV.

Each reader takes the whole file and answers everything in it or raises DataError saying
what is wrong (reference/vulnerability-data.md): a truncated or foreign file is refused
whole, so that the caller can leave the data in force as it was.

- OSV: `all.zip` of one ecosystem, a JSON record per member. Withdrawn records are left out;
  of each record's `affected[]` entries only those of the ecosystems we can order are kept
  (domain.vulns.SUPPORTED_FAMILIES), and of their ranges only ECOSYSTEM and SEMVER ones
  (GIT ranges name commits, not package versions).
- KEV: `{"catalogVersion", "dateReleased", "count", "vulnerabilities": [{"cveID", ...}]}`.
- EPSS: `#model_version:...,score_date:...` then `cve,epss,percentile`; gzip accepted.

Pure: bytes or text in, plain values out.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any

from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError

from forewarn.domain.vulns import SUPPORTED_FAMILIES, family


class DataError(ValueError):
    """The file is not vulnerability data we can read; the message says what is wrong."""


OSV, KEV, EPSS = "osv", "kev", "epss"
KINDS = (OSV, KEV, EPSS)
MAX_RECORDS = 1_000_000
MAX_MEMBER_BYTES = 20 * 1024 * 1024
MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024  # uncompressed: a zip bomb is refused, not read
CVE = re.compile(r"CVE-\d{4}-\d{4,}")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$")
_EVENTS = ("introduced", "fixed", "last_affected", "limit")


def detect(head: bytes) -> str | None:
    """Which kind of vulnerability data a file's first bytes say it is; None: none of ours
    (the caller tries the end-of-life formats)."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return OSV
    if head.startswith(b"\x1f\x8b"):
        try:
            head = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(head, 4096)
        except zlib.error:
            return None
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"#model_version") or text.lower().startswith(b"cve,epss"):
        return EPSS
    if text.startswith(b"{") and (b'"catalogVersion"' in head or b'"cveID"' in head):
        return KEV
    return None


# ---- OSV -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Affected:
    ecosystem: str
    package: str
    ranges: list[list[list[str]]]  # per range: [[kind, version], ...]
    versions: list[str]


@dataclass(frozen=True)
class Record:
    id: str
    modified: datetime | None
    aliases: list[str]  # CVE ids first, then the other ids it is known by
    summary: str
    severity: list[dict[str, str]]
    cvss: float | None  # the highest base score of the CVSS vectors given
    affected: list[Affected]


@dataclass(frozen=True)
class OsvData:
    families: list[str]  # the ecosystems this file is the data of ("Debian", "PyPI")
    records: list[Record]
    data_date: date | None  # the newest `modified`
    withdrawn: int


def _text(value: Any, where: str, field: str, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise DataError(f"{where}: `{field}` must be a non-empty string")
    return value


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def cvss_score(severity: list[dict[str, str]]) -> float | None:
    """The highest base score among the CVSS vectors of a record; None without one."""
    best: float | None = None
    for item in severity:
        kind, vector = item.get("type", ""), item.get("score", "")
        scorer = {"CVSS_V2": CVSS2, "CVSS_V3": CVSS3, "CVSS_V4": CVSS4}.get(kind)
        if scorer is None:
            continue
        try:
            score = float(scorer(vector).base_score)
        except (CVSSError, ValueError, KeyError, TypeError):
            continue  # a vector we cannot score is "unknown", not a refused file
        best = score if best is None else max(best, score)
    return best


def _ranges(value: Any, where: str) -> list[list[list[str]]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataError(f"{where}: `ranges` must be a list")
    out = []
    for rng in value:
        if not isinstance(rng, dict) or not isinstance(rng.get("events"), list):
            raise DataError(f"{where}: a range needs `type` and a list of `events`")
        kind = rng.get("type")
        if kind not in ("ECOSYSTEM", "SEMVER", "GIT"):
            raise DataError(f"{where}: unknown range type {kind!r}")
        events = []
        for event in rng["events"]:
            if not isinstance(event, dict) or len(event) != 1:
                raise DataError(f"{where}: an event must have exactly one of {', '.join(_EVENTS)}")
            ((name, version),) = event.items()
            if name not in _EVENTS or not isinstance(version, str) or not version:
                raise DataError(f"{where}: bad event {event!r}")
            events.append([name, version])
        if kind != "GIT":
            out.append(events)
    return out


def parse_record(obj: Any, where: str) -> Record | None:
    """One OSV record, checked; None when it is withdrawn."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: not an OSV record (a JSON object is expected)")
    ident = _text(obj.get("id"), where, "id")
    if not _ID.match(ident):
        raise DataError(f"{where}: `id` {ident[:80]!r} is not an OSV id")
    _text(obj.get("modified"), where, "modified")
    if obj.get("withdrawn"):
        return None
    names: list[str] = []
    for field in ("aliases", "upstream"):
        value = obj.get(field) or []
        if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
            raise DataError(f"{where}: `{field}` must be a list of strings")
        names.extend(value)
    cves = sorted({m for a in [ident, *names] for m in CVE.findall(a)})
    aliases = cves + sorted({a for a in names if a not in cves and a != ident})
    severity_raw = obj.get("severity") or []
    if not isinstance(severity_raw, list):
        raise DataError(f"{where}: `severity` must be a list")
    severity = [
        {"type": str(s.get("type", ""))[:32], "score": str(s.get("score", ""))[:200]}
        for s in severity_raw
        if isinstance(s, dict)
    ]
    affected_raw = obj.get("affected") or []
    if not isinstance(affected_raw, list):
        raise DataError(f"{where}: `affected` must be a list")
    affected = []
    for item in affected_raw:
        if not isinstance(item, dict) or not isinstance(item.get("package", {}), dict):
            raise DataError(f"{where}: an `affected` entry must be an object with a `package`")
        package = item.get("package") or {}
        ecosystem = package.get("ecosystem")
        name = package.get("name")
        ranges = _ranges(item.get("ranges"), where)
        versions = item.get("versions") or []
        if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
            raise DataError(f"{where}: `versions` must be a list of strings")
        if not isinstance(ecosystem, str) or not isinstance(name, str) or not name:
            continue  # entries without a package (GIT-only) do not name anything installed
        if family(ecosystem) not in SUPPORTED_FAMILIES or not (ranges or versions):
            continue
        # Severity may also be given per affected package; the record's own comes first.
        for s in item.get("severity") or []:
            if isinstance(s, dict):
                severity.append(
                    {"type": str(s.get("type", ""))[:32], "score": str(s.get("score", ""))[:200]}
                )
        affected.append(Affected(ecosystem[:64], name[:255], ranges, versions))
    summary = obj.get("summary") or obj.get("details") or ""
    return Record(
        id=ident,
        modified=_when(obj.get("modified")),
        aliases=aliases[:50],
        summary=str(summary).strip().splitlines()[0][:500] if str(summary).strip() else "",
        severity=severity[:10],
        cvss=cvss_score(severity),
        affected=affected,
    )


def _dominant(records: list[Record]) -> list[str]:
    """The ecosystems a zip is the data of: the one most entries belong to, and any other
    with at least a quarter as many (the all-ecosystems zip). A record that also lists a
    package of another ecosystem (a GitHub advisory covering PyPI and npm) does not make
    this file the data of that ecosystem, which would replace its own data by a few rows."""
    counts = Counter(family(a.ecosystem) for r in records for a in r.affected)
    if not counts:
        return []
    top = max(counts.values())
    return sorted(f for f, n in counts.items() if n * 4 >= top)


def read_osv_zip(stream: IO[bytes] | bytes) -> OsvData:
    """Every record of an OSV ecosystem zip, or DataError for the first thing wrong."""
    source = io.BytesIO(stream) if isinstance(stream, bytes) else stream
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"not a readable zip file ({exc})") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if not members:
            raise DataError("the zip file is empty")
        if len(members) > MAX_RECORDS:
            raise DataError(f"more than {MAX_RECORDS} records")
        if sum(m.file_size for m in members) > MAX_TOTAL_BYTES:
            raise DataError("the zip unpacks to more than 4 GB")
        records, withdrawn = [], 0
        for member in members:
            name = member.filename
            if not name.lower().endswith(".json"):
                raise DataError(f"{name}: not an OSV zip (every member should be a .json record)")
            if member.file_size > MAX_MEMBER_BYTES:
                raise DataError(f"{name}: a record larger than 20 MB")
            try:
                raw = archive.read(member)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                raise DataError(f"{name}: the zip is damaged or truncated ({exc})") from None
            try:
                obj = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise DataError(f"{name}: not JSON ({exc})") from None
            record = parse_record(obj, name)
            if record is None:
                withdrawn += 1
            else:
                records.append(record)
    families = _dominant(records)
    if not families:
        raise DataError(
            "no record names a package of an ecosystem we can match "
            f"({', '.join(SUPPORTED_FAMILIES)})"
        )
    kept = []
    for record in records:
        entries = [a for a in record.affected if family(a.ecosystem) in families]
        if entries:
            kept.append(
                Record(
                    record.id,
                    record.modified,
                    record.aliases,
                    record.summary,
                    record.severity,
                    record.cvss,
                    entries,
                )
            )
    modified = [r.modified for r in records if r.modified is not None]
    return OsvData(families, kept, max(modified).date() if modified else None, withdrawn)


# ---- KEV -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KevEntry:
    cve: str
    vendor: str
    product: str
    name: str
    date_added: date
    due_date: date | None
    ransomware: bool  # knownRansomwareCampaignUse == "Known"
    required_action: str


@dataclass(frozen=True)
class KevData:
    catalog_version: str
    data_date: date | None
    entries: list[KevEntry]


def _day(value: Any, where: str, field: str, required: bool) -> date | None:
    if value in (None, "") and not required:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise DataError(f"{where}: `{field}` {value!r} is not a date") from None


def parse_kev(text: str) -> KevData:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise DataError(f"not JSON, or cut short ({exc})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("vulnerabilities"), list):
        raise DataError("not a CISA KEV catalog: no `vulnerabilities` list")
    items = obj["vulnerabilities"]
    count = obj.get("count")
    if isinstance(count, int) and count != len(items):
        raise DataError(f"the catalog says {count} entries but holds {len(items)}")
    entries = []
    for i, item in enumerate(items):
        where = f"entry {i + 1}"
        if not isinstance(item, dict):
            raise DataError(f"{where}: not an object")
        cve = str(item.get("cveID", ""))
        if not CVE.fullmatch(cve):
            raise DataError(f"{where}: `cveID` {cve[:40]!r} is not a CVE id")
        added = _day(item.get("dateAdded"), cve, "dateAdded", True)
        assert added is not None
        entries.append(
            KevEntry(
                cve=cve,
                vendor=str(item.get("vendorProject", ""))[:200],
                product=str(item.get("product", ""))[:200],
                name=str(item.get("vulnerabilityName", ""))[:300],
                date_added=added,
                due_date=_day(item.get("dueDate"), cve, "dueDate", False),
                ransomware=str(item.get("knownRansomwareCampaignUse", "")).lower() == "known",
                required_action=str(item.get("requiredAction", ""))[:1000],
            )
        )
    released = _day(obj.get("dateReleased"), "catalog", "dateReleased", False)
    return KevData(str(obj.get("catalogVersion", ""))[:64], released, entries)


# ---- EPSS ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpssData:
    model_version: str
    data_date: date | None
    scores: list[tuple[str, float, float]]  # (cve, probability, percentile)


def decompress(raw: bytes) -> bytes:
    """A gzip file's content (EPSS is published gzipped); other bytes as they are."""
    if not raw.startswith(b"\x1f\x8b"):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"the gzip file is damaged or truncated ({exc})") from None


def parse_epss(text: str) -> EpssData:
    lines = text.splitlines()
    meta: dict[str, str] = {}
    if lines and lines[0].startswith("#"):
        for part in lines[0].lstrip("#").split(","):
            key, _, value = part.partition(":")
            meta[key.strip()] = value.strip()
        lines = lines[1:]
    if not lines or [h.strip().lower() for h in lines[0].split(",")] != [
        "cve",
        "epss",
        "percentile",
    ]:
        raise DataError("not an EPSS file: the header should be `cve,epss,percentile`")
    scores = []
    for number, row in enumerate(csv.reader(lines[1:]), start=3 if meta else 2):
        if not row:
            continue
        if len(row) != 3:
            raise DataError(f"line {number}: 3 fields expected (cut short?)")
        cve = row[0].strip()
        if not CVE.fullmatch(cve):
            raise DataError(f"line {number}: {cve[:40]!r} is not a CVE id")
        try:
            epss, pct = float(row[1]), float(row[2])
        except ValueError:
            raise DataError(f"line {number}: the scores are not numbers") from None
        if not (0.0 <= epss <= 1.0 and 0.0 <= pct <= 1.0):
            raise DataError(f"line {number}: scores must be between 0 and 1")
        scores.append((cve, epss, pct))
    if not scores:
        raise DataError("the EPSS file holds no scores")
    when = meta.get("score_date", "")
    return EpssData(
        meta.get("model_version", "")[:64],
        _day(when, "header", "score_date", False) if when else None,
        scores,
    )
