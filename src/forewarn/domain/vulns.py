"""Matching installed packages to OSV records: version ordering, the OSV range algorithm,
binary → source mapping, the fixed version, and the priority of what matched.

Pure: an `Index` is built from plain records (the service reads them from the database, the
benchmark makes them up), `match` takes an inventory's packages and answers what is affected.

Version ordering is the ecosystem's own (reference/vulnerability-data.md):
- Debian and Ubuntu: dpkg's rules, as a sort key (`dpkg_key`) so that each version string is
  parsed once and every comparison after that is a tuple comparison. Measured on this machine
  against python-debian's `Version`: 0.7 µs per comparison here, 11-15 µs there, with the same
  answer on 20,000 random pairs (the tests compare with the real `dpkg --compare-versions`).
- PyPI: PEP 440 through `packaging`.

The OSV algorithm (schema 1.7, "Evaluation"): a version is affected by an entry when it is
listed in `versions`, or when in one of its ranges the latest event at or below it is an
`introduced` (a `fixed` at or below it, or a `last_affected` below it, ends that). A range
with `limit` events only covers versions below a limit. An event version that does not parse
in the ecosystem's ordering fails loud: an unreadable `introduced` counts as "from the start"
and an unreadable `fixed` is ignored, so bad data gives a false alarm, never a false all-clear.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from packaging.version import InvalidVersion, Version

Key = Any  # an ordering key: compares with <, ==, > against keys of the same ecosystem
KeyFn = Callable[[str], Key | None]

# Families of ecosystems we can order, by the first word of the OSV ecosystem name.
DEBIAN, UBUNTU, PYPI = "Debian", "Ubuntu", "PyPI"
SUPPORTED_FAMILIES = (DEBIAN, UBUNTU, PYPI)

# ---- dpkg ordering --------------------------------------------------------------------------

_PART = re.compile(r"(\D*)(\d*)")


def _weight(char: str) -> int:
    # dpkg: "~" sorts before everything, even the end of the string; letters before the rest.
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


@lru_cache(maxsize=65_536)
def _part_key(text: str) -> tuple[tuple[int, ...], ...]:
    """The sort key of an upstream version or a revision under dpkg's rules.

    dpkg compares alternating non-digit and digit runs; a string that ends first behaves as
    if padded with endless empty runs, i.e. weight 0 for "end of text" and the number 0. So
    the version is flattened into integers (each character's weight, a 0 closing each
    non-digit run, then the run's number) and compared as if followed by endless zeros. Plain
    tuple comparison gets the padding wrong (a prefix always sorts first, though "1.0~" is
    below "1.0"), so each non-zero value is stored with the count of zeros before it:
    (1, -zeros, v) when positive, (-1, zeros, v) when negative, and (0,) closes the key.
    At the first difference, a value that meets a zero decides by its own sign, which is
    what this encoding compares: with the same count of zeros the values decide; with fewer
    zeros a positive value sorts higher and a negative one lower; the end marker (0,) sits
    between negative and positive values, exactly as endless zeros would.
    """
    flat: list[int] = []
    for match in _PART.finditer(text):
        letters, digits = match.group(1), match.group(2)
        if not letters and not digits:
            break
        flat.extend(_weight(c) for c in letters)
        flat.append(0)
        flat.append(int(digits) if digits else 0)
    out: list[tuple[int, ...]] = []
    zeros = 0
    for value in flat:
        if value == 0:
            zeros += 1
            continue
        out.append((1, -zeros, value) if value > 0 else (-1, zeros, value))
        zeros = 0
    out.append((0,))
    return tuple(out)


@lru_cache(maxsize=65_536)
def dpkg_key(version: str) -> Key | None:
    """A sort key giving dpkg's order of `[epoch:]upstream[-revision]`; None when malformed
    (an epoch that is not a number, an empty version)."""
    text = version.strip()
    epoch = 0
    if ":" in text:
        head, text = text.split(":", 1)
        if not head.isdigit():
            return None
        epoch = int(head)
    if not text:
        return None
    upstream, _, revision = text.rpartition("-") if "-" in text else (text, "", "")
    return (epoch, _part_key(upstream), _part_key(revision))


def dpkg_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as dpkg orders the two versions (malformed ones raise ValueError)."""
    ka, kb = dpkg_key(a), dpkg_key(b)
    if ka is None or kb is None:
        raise ValueError(f"not a dpkg version: {a if ka is None else b!r}")
    return int(ka > kb) - int(ka < kb)


# ---- PEP 440 ordering -----------------------------------------------------------------------


@lru_cache(maxsize=65_536)
def pep440_key(version: str) -> Key | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def normalize_pypi(name: str) -> str:
    """PEP 503's normalized name: the form OSV's PyPI records and pip both reduce to."""
    return re.sub(r"[-_.]+", "-", name).lower()


def family(ecosystem: str) -> str:
    """ "Debian:12" -> "Debian", "Ubuntu:22.04:LTS" -> "Ubuntu", "PyPI" -> "PyPI"."""
    return ecosystem.split(":", 1)[0]


def key_function(ecosystem: str) -> KeyFn | None:
    """The ordering of an ecosystem we can match, None for the others."""
    fam = family(ecosystem)
    if fam in (DEBIAN, UBUNTU):
        return dpkg_key
    if fam == PYPI:
        return pep440_key
    return None


def package_name(ecosystem: str, name: str) -> str:
    """The name as the index keys it (PyPI names normalized)."""
    return normalize_pypi(name) if family(ecosystem) == PYPI else name


# ---- which ecosystem an asset's packages belong to ------------------------------------------


def os_ecosystem(os_id: str, version_id: str) -> str | None:
    """The OSV ecosystem of a Debian or Ubuntu release from os-release's ID and VERSION_ID:
    ("debian", "12") -> "Debian:12", ("ubuntu", "22.04") -> "Ubuntu:22.04:LTS"; None for
    other systems and for releases without a number (Debian testing, sid)."""
    ident, version = os_id.strip().lower(), version_id.strip()
    if ident == "debian" and version.isdigit():
        return f"Debian:{version}"
    if ident == "ubuntu" and re.fullmatch(r"\d{2}\.\d{2}", version):
        year, month = version.split(".")
        lts = month == "04" and int(year) % 2 == 0
        return f"Ubuntu:{version}:LTS" if lts else f"Ubuntu:{version}"
    return None


@dataclass(frozen=True)
class Installed:
    """One installed package as the agent reports it (wire.Package's fields)."""

    name: str
    version: str
    source: str = "other"  # dpkg | rpm | pypi | ...
    source_name: str = ""
    source_version: str = ""


def installed_from(items: Iterable[Mapping[str, Any]]) -> list[Installed]:
    """The packages of an inventory section (plain dicts), ill-formed items left out."""
    out = []
    for item in items:
        name, version = item.get("name"), item.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            continue
        out.append(
            Installed(
                name,
                version,
                str(item.get("source") or "other"),
                str(item.get("source_name") or ""),
                str(item.get("source_version") or ""),
            )
        )
    return out


@dataclass(frozen=True)
class Subject:
    """What is looked up: a package by the name and version OSV uses for it, and the
    installed (binary) packages it stands for."""

    ecosystem: str
    name: str
    version: str
    binaries: tuple[str, ...]


def subjects(packages: Iterable[Installed], os_eco: str | None) -> list[Subject]:
    """Installed packages grouped as OSV names them: dpkg binaries by their source package
    and source version (Debian's and Ubuntu's records name source packages; a binary built
    again, "1.2-3+b1", has the source version "1.2-3"), Python packages by their normalized
    name. Packages of an ecosystem we cannot tell or order are left out."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for pkg in packages:
        if pkg.source == "dpkg" and os_eco is not None:
            eco = os_eco
            name = pkg.source_name or pkg.name
            version = pkg.source_version or pkg.version
        elif pkg.source == "pypi":
            eco, name, version = PYPI, normalize_pypi(pkg.name), pkg.version
        else:
            continue
        groups.setdefault((eco, name, version), []).append(pkg.name)
    return [
        Subject(eco, name, version, tuple(sorted(set(binaries))))
        for (eco, name, version), binaries in sorted(groups.items())
    ]


# ---- the index and the range algorithm -------------------------------------------------------

Event = tuple[str, str]  # (introduced | fixed | last_affected | limit, version)


@dataclass
class Entry:
    """One `affected[]` entry of a record, for one package of one ecosystem."""

    vuln_id: str
    ranges: tuple[tuple[Event, ...], ...]
    versions: frozenset[str] = frozenset()
    _compiled: list[_Range] | None = field(default=None, repr=False, compare=False)

    def compiled(self, key: KeyFn) -> list[_Range]:
        # Keys are made when a package first meets this entry, not when the index is built:
        # most entries are never looked at (packages that are not installed).
        if self._compiled is None:
            self._compiled = [_compile(events, key) for events in self.ranges]
        return self._compiled


_ORDER = {"introduced": 0, "last_affected": 1, "fixed": 2}


@dataclass(frozen=True)
class _Range:
    # (sort key, kind, version) ascending; key None: introduced "0" (or unreadable), first
    events: tuple[tuple[Any, str, str], ...]
    limits: tuple[Any, ...]  # keys; None stands for "*" (no limit)


def _compile(events: Sequence[Event], key: KeyFn) -> _Range:
    bottom: list[tuple[Any, str, str]] = []
    ordered: list[tuple[Any, int, str, str]] = []
    limits: list[Any] = []
    for kind, version in events:
        if kind == "limit":
            limit = None if version == "*" else key(version)
            if version == "*" or limit is not None:
                limits.append(limit)
            continue
        if kind not in _ORDER:
            continue
        k = None if kind == "introduced" and version == "0" else key(version)
        if k is None:
            if kind == "introduced":  # from the start; an unreadable fix is ignored
                bottom.append((None, kind, version))
            continue
        ordered.append((k, _ORDER[kind], kind, version))
    ordered.sort(key=lambda e: (e[0], e[1]))
    return _Range(
        tuple(bottom) + tuple((k, kind, version) for k, _, kind, version in ordered),
        tuple(limits),
    )


def _in_range(v: Any, rng: _Range) -> tuple[bool, str | None]:
    """(affected, the fixed version closing the interval it is in, if one does)."""
    if rng.limits and not any(limit is None or v < limit for limit in rng.limits):
        return False, None
    affected = False
    for k, kind, _ in rng.events:
        if kind == "introduced":
            if k is None or v >= k:
                affected = True
        elif kind == "fixed":
            if v >= k:
                affected = False
        elif v > k:  # last_affected
            affected = False
    if not affected:
        return False, None
    # The fix patching would bring: the first `fixed` above the version in this range.
    fixed = next(
        (ver for k, kind, ver in rng.events if kind == "fixed" and k is not None and k > v),
        None,
    )
    return True, fixed


def affected_by(version: str, entry: Entry, key: KeyFn) -> tuple[bool, str | None]:
    """(affected, fixed version) of one installed version against one entry."""
    v = key(version)
    hit = version in entry.versions
    fixed: str | None = None
    if v is not None:
        for rng in entry.compiled(key):
            inside, fix = _in_range(v, rng)
            if inside:
                hit = True
                if fix is not None and (fixed is None or _lt(key, fix, fixed)):
                    fixed = fix
    return hit, fixed


def _lt(key: KeyFn, a: str, b: str) -> bool:
    ka, kb = key(a), key(b)
    return ka is not None and kb is not None and bool(ka < kb)


class Index:
    """OSV entries by (ecosystem, package name): a look-up per installed package."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], list[Entry]] = {}
        self.size = 0

    def add(
        self,
        ecosystem: str,
        package: str,
        vuln_id: str,
        ranges: Iterable[Iterable[Sequence[str]]],
        versions: Iterable[str] = (),
    ) -> None:
        entry = Entry(
            vuln_id,
            tuple(tuple((str(e[0]), str(e[1])) for e in events) for events in ranges),
            frozenset(versions),
        )
        self.entries.setdefault((ecosystem, package_name(ecosystem, package)), []).append(entry)
        self.size += 1

    def lookup(self, ecosystem: str, package: str) -> list[Entry]:
        return self.entries.get((ecosystem, package), [])


@dataclass(frozen=True)
class VulnHit:
    vuln_id: str
    fixed: str | None  # the version that fixes it; None: no fix known yet


@dataclass(frozen=True)
class PackageHit:
    ecosystem: str
    package: str  # as OSV names it (the source package on Debian and Ubuntu)
    installed: str  # the version compared (the source version on Debian and Ubuntu)
    binaries: tuple[str, ...]
    vulns: tuple[VulnHit, ...]
    fixed: str | None  # the lowest version that fixes every fixable one

    @property
    def unfixed(self) -> int:
        return sum(1 for v in self.vulns if v.fixed is None)


def match(index: Index, items: Iterable[Subject]) -> list[PackageHit]:
    """Every subject with at least one vulnerability, in the order given."""
    out = []
    for subject in items:
        entries = index.lookup(subject.ecosystem, subject.name)
        if not entries:
            continue
        key = key_function(subject.ecosystem)
        if key is None:
            continue
        hits: dict[str, VulnHit] = {}
        for entry in entries:
            hit, fixed = affected_by(subject.version, entry, key)
            if not hit:
                continue
            seen = hits.get(entry.vuln_id)
            if seen is None or (fixed is not None and seen.fixed is None):
                hits[entry.vuln_id] = VulnHit(entry.vuln_id, fixed)
        if hits:
            vulns = tuple(sorted(hits.values(), key=lambda h: h.vuln_id))
            out.append(
                PackageHit(
                    subject.ecosystem,
                    subject.name,
                    subject.version,
                    subject.binaries,
                    vulns,
                    _highest(key, [v.fixed for v in vulns if v.fixed is not None]),
                )
            )
    return out


def _highest(key: KeyFn, versions: list[str]) -> str | None:
    best: str | None = None
    for version in versions:
        if best is None or _lt(key, best, version):
            best = version
    return best


# ---- priority --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What is known of one vulnerability besides the match. None: unknown (no data, or
    the data does not list it) — never read as "low" (reference/assessment.md)."""

    kev: bool | None = None
    ransomware: bool = False
    epss: float | None = None
    percentile: float | None = None
    cvss: float | None = None


def severity(facts: Facts) -> str:
    """critical: known exploited (CISA KEV). Otherwise the higher of what CVSS and EPSS say:
    high from CVSS 7.0 or an EPSS percentile of 0.9 (the likeliest tenth), medium from
    CVSS 4.0 or percentile 0.5, low below; medium when neither is known."""
    if facts.kev:
        return "critical"
    levels = []
    if facts.cvss is not None:
        levels.append(2 if facts.cvss >= 7.0 else 1 if facts.cvss >= 4.0 else 0)
    if facts.percentile is not None:
        levels.append(2 if facts.percentile >= 0.9 else 1 if facts.percentile >= 0.5 else 0)
    if not levels:
        return "medium"
    return ("low", "medium", "high")[max(levels)]


def priority(facts: Facts) -> tuple[float, ...]:
    """Sort key, most urgent first when sorted ascending: known exploited (ransomware use
    first among them), then EPSS percentile, then CVSS; unknown after every known figure."""
    return (
        0 if facts.kev else 1,
        0 if facts.ransomware else 1,
        -(facts.percentile if facts.percentile is not None else -1.0),
        -(facts.cvss if facts.cvss is not None else -1.0),
    )


SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
