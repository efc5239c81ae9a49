"""The vulnerability data in force: OSV records per ecosystem, CISA KEV, EPSS.

Imported with `forewarn data import` (the format told by the file's content) and kept in the
database, so that every server process matches against the same data. An import replaces
its data set whole in one transaction (an OSV zip each of the ecosystems it is the data of),
after the whole file was read and checked: a file refused changes nothing.

Matching reads the records of one ecosystem at a time through `index_for`, built once per
process and data set and kept until the next import (its stamp changes).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from forewarn.domain import vulndata as vd
from forewarn.domain.vulns import Facts, Index, family
from forewarn.services.context import Context
from forewarn.services.errors import invalid
from forewarn.store.models import EpssScore, KevEntry, VulnAffected, VulnDataset, VulnRecord

KEV_NAME, EPSS_NAME = "kev", "epss"
MAX_TEXT_BYTES = 200 * 1024 * 1024  # KEV is ~2 MB, EPSS ~10 MB unpacked
CHUNK = 5_000
LABELS = {KEV_NAME: "CISA known exploited vulnerabilities", EPSS_NAME: "EPSS exploit prediction"}


@dataclass(frozen=True)
class DatasetStatus:
    name: str  # osv:Debian | kev | epss
    kind: str
    label: str
    source: str
    data_date: date
    imported_at: datetime
    records: int
    version: str


def _label(name: str) -> str:
    if name.startswith("osv:"):
        return f"OSV {name[4:]} vulnerabilities"
    return LABELS.get(name, name)


def _out(row: VulnDataset) -> DatasetStatus:
    return DatasetStatus(
        row.name,
        row.kind,
        _label(row.name),
        row.source,
        row.data_date,
        row.imported_at,
        row.records,
        row.version,
    )


def datasets(session: Session) -> list[DatasetStatus]:
    rows = session.scalars(select(VulnDataset).order_by(VulnDataset.kind, VulnDataset.name))
    return [_out(r) for r in rows]


def status(ctx: Context) -> list[DatasetStatus]:
    """Every vulnerability data set loaded, with its date."""
    with ctx.db.read() as session:
        return datasets(session)


def stamp(items: Iterable[DatasetStatus]) -> str:
    """Changes whenever any data set is imported again: what a match was made against."""
    text = "|".join(sorted(f"{d.name}@{d.imported_at.isoformat()}" for d in items))
    return hashlib.sha1(text.encode()).hexdigest()[:16] if text else ""


def data_dates(items: Iterable[DatasetStatus]) -> dict[str, str]:
    """name -> ISO date, shown beside every vulnerability."""
    return {d.name: d.data_date.isoformat() for d in items}


# ---- import ----------------------------------------------------------------------------------


def detect(head: bytes, kind: str | None = None) -> str | None:
    """The kind of vulnerability data a file is (forced by `kind` when given), None when it
    is none of them (an end-of-life file)."""
    if kind is not None:
        if kind not in vd.KINDS:
            raise invalid(f"unknown kind {kind!r}: one of {', '.join(vd.KINDS)}")
        return kind
    return vd.detect(head)


def import_file(
    ctx: Context,
    filename: str,
    stream: IO[bytes],
    *,
    kind: str | None = None,
    data_date: date | None = None,
) -> list[DatasetStatus]:
    """Read a whole OSV zip, KEV JSON or EPSS CSV and replace that data set with it. A file
    that cannot be read whole is refused (422, saying why) and nothing changes."""
    head = stream.read(4096)
    stream.seek(0)
    found = detect(head, kind)
    if found is None:
        raise invalid(f"{filename}: not an OSV zip, a KEV catalog or an EPSS file")
    name = Path(filename).name
    try:
        if found == vd.OSV:
            return _import_osv(ctx, name, vd.read_osv_zip(stream), data_date)
        raw = stream.read(MAX_TEXT_BYTES + 1)
        if len(raw) > MAX_TEXT_BYTES:
            raise invalid(f"{name}: larger than {MAX_TEXT_BYTES // (1024 * 1024)} MB")
        text = _text(vd.decompress(raw), name)
        if found == vd.KEV:
            return _import_kev(ctx, name, vd.parse_kev(text), data_date)
        return _import_epss(ctx, name, vd.parse_epss(text), data_date)
    except vd.DataError as exc:
        raise invalid(f"{name}: {exc}") from None


def _text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid(f"{name}: not UTF-8 text") from None


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def _replace(
    session: Session,
    name: str,
    kind: str,
    source: str,
    when: date,
    now: datetime,
    records: int,
    version: str = "",
) -> None:
    row = session.get(VulnDataset, name)
    if row is None:
        row = VulnDataset(name=name, kind=kind)
        session.add(row)
    row.source, row.data_date, row.imported_at = source[:300], when, now
    row.records, row.version = records, version[:64]


def _import_osv(
    ctx: Context, filename: str, data: vd.OsvData, data_date: date | None
) -> list[DatasetStatus]:
    now = ctx.clock.now()
    when = data_date or data.data_date or now.date()
    names = []
    with ctx.db.transaction() as session:
        for fam in data.families:
            name = f"osv:{fam}"
            names.append(name)
            session.execute(delete(VulnAffected).where(VulnAffected.dataset == name))
            session.execute(delete(VulnRecord).where(VulnRecord.dataset == name))
            records: list[dict[str, Any]] = []
            affected: list[dict[str, Any]] = []
            seen: set[str] = set()
            for rec in data.records:
                entries = [a for a in rec.affected if family(a.ecosystem) == fam]
                if not entries or rec.id in seen:
                    continue
                seen.add(rec.id)
                records.append(
                    {
                        "dataset": name,
                        "id": rec.id,
                        "aliases": rec.aliases,
                        "summary": rec.summary,
                        "severity": rec.severity,
                        "cvss": rec.cvss,
                        "modified": rec.modified,
                    }
                )
                affected.extend(
                    {
                        "dataset": name,
                        "vuln_id": rec.id,
                        "ecosystem": a.ecosystem,
                        "package": a.package,
                        "ranges": a.ranges,
                        "versions": a.versions,
                    }
                    for a in entries
                )
            for chunk in _chunks(records):
                session.execute(insert(VulnRecord), chunk)
            for chunk in _chunks(affected):
                session.execute(insert(VulnAffected), chunk)
            _replace(session, name, vd.OSV, f"{filename} (OSV zip)", when, now, len(records))
    return [s for s in status(ctx) if s.name in names]


def _import_kev(
    ctx: Context, filename: str, data: vd.KevData, data_date: date | None
) -> list[DatasetStatus]:
    now = ctx.clock.now()
    when = data_date or data.data_date or now.date()
    rows = {
        e.cve: {
            "cve": e.cve,
            "name": e.name,
            "date_added": e.date_added,
            "due_date": e.due_date,
            "ransomware": e.ransomware,
            "required_action": e.required_action,
        }
        for e in data.entries
    }
    with ctx.db.transaction() as session:
        session.execute(delete(KevEntry))
        for chunk in _chunks(list(rows.values())):
            session.execute(insert(KevEntry), chunk)
        source = f"{filename} (CISA KEV JSON)"
        _replace(session, KEV_NAME, vd.KEV, source, when, now, len(rows), data.catalog_version)
    return [s for s in status(ctx) if s.name == KEV_NAME]


def _import_epss(
    ctx: Context, filename: str, data: vd.EpssData, data_date: date | None
) -> list[DatasetStatus]:
    now = ctx.clock.now()
    when = data_date or data.data_date or now.date()
    rows = {cve: {"cve": cve, "epss": e, "percentile": p} for cve, e, p in data.scores}
    with ctx.db.transaction() as session:
        session.execute(delete(EpssScore))
        for chunk in _chunks(list(rows.values())):
            session.execute(insert(EpssScore), chunk)
        source = f"{filename} (EPSS CSV)"
        _replace(session, EPSS_NAME, vd.EPSS, source, when, now, len(rows), data.model_version)
    return [s for s in status(ctx) if s.name == EPSS_NAME]


# ---- what matching reads ---------------------------------------------------------------------

_cache: dict[str, tuple[str, Index]] = {}
_cache_lock = threading.Lock()


def index_for(session: Session, ecosystem: str, version: str) -> Index:
    """The index of one ecosystem ("Debian:12"), rebuilt only when `version` (the stamp of
    its data set) changed since this process last built it."""
    with _cache_lock:
        cached = _cache.get(ecosystem)
        if cached is not None and cached[0] == version:
            return cached[1]
    index = Index()
    rows = session.execute(
        select(
            VulnAffected.package, VulnAffected.vuln_id, VulnAffected.ranges, VulnAffected.versions
        ).where(VulnAffected.ecosystem == ecosystem)
    )
    for package, vuln_id, ranges, versions in rows:
        index.add(ecosystem, package, vuln_id, ranges or [], versions or [])
    with _cache_lock:
        _cache[ecosystem] = (version, index)
    return index


@dataclass(frozen=True)
class VulnInfo:
    id: str
    aliases: list[str]
    summary: str
    cvss: float | None


@dataclass(frozen=True)
class KevInfo:
    due_date: date | None
    ransomware: bool
    name: str
    required_action: str


def records(session: Session, dataset: str, ids: Sequence[str]) -> dict[str, VulnInfo]:
    out: dict[str, VulnInfo] = {}
    for start in range(0, len(ids), 500):
        rows = session.scalars(
            select(VulnRecord).where(
                VulnRecord.dataset == dataset, VulnRecord.id.in_(ids[start : start + 500])
            )
        )
        for r in rows:
            out[r.id] = VulnInfo(r.id, list(r.aliases or []), r.summary, r.cvss)
    return out


def kev(session: Session, cves: Sequence[str]) -> dict[str, KevInfo]:
    out: dict[str, KevInfo] = {}
    for start in range(0, len(cves), 500):
        rows = session.scalars(select(KevEntry).where(KevEntry.cve.in_(cves[start : start + 500])))
        for r in rows:
            out[r.cve] = KevInfo(r.due_date, r.ransomware, r.name, r.required_action)
    return out


def epss(session: Session, cves: Sequence[str]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for start in range(0, len(cves), 500):
        rows = session.execute(
            select(EpssScore.cve, EpssScore.epss, EpssScore.percentile).where(
                EpssScore.cve.in_(cves[start : start + 500])
            )
        )
        for cve, score, pct in rows:
            out[cve] = (float(score), float(pct))
    return out


def facts_of(
    cves: Sequence[str],
    cvss: float | None,
    kev_found: dict[str, KevInfo],
    epss_found: dict[str, tuple[float, float]],
    have_kev: bool,
) -> Facts:
    """What is known of one vulnerability through its CVE ids. Without the KEV catalog
    loaded, "known exploited" is unknown (None), not "no"."""
    listed = [kev_found[c] for c in cves if c in kev_found]
    scores = [epss_found[c] for c in cves if c in epss_found]
    return Facts(
        kev=bool(listed) if have_kev else None,
        ransomware=any(k.ransomware for k in listed),
        epss=max(s[0] for s in scores) if scores else None,
        percentile=max(s[1] for s in scores) if scores else None,
        cvss=cvss,
    )
