"""End-of-life data: reading its two formats and matching what an agent inventories to it.

Two formats are read, both as published (reference/vulnerability-data.md):
- endoflife.date JSON: the v1 API (`{"result": [{"name", "releases": [{"name", "eolFrom",
  "isEol", "eoesFrom", ...}]}]}`, or one product as `{"result": {...}}`) and the older
  per-product list of cycles (`[{"cycle", "eol", "extendedSupport", ...}]`, the product named
  by the file or by the caller). `eol` may be a date, or `true`/`false` (ended, date unknown /
  no end announced).
- Debian's distro-info CSV (`version,codename,series,created,release,eol[,...]`): debian.csv
  (eol-lts, eol-elts) and ubuntu.csv (eol-server, eol-esm, eol-legacy).

Pure: parsing takes text, matching takes the inventory's words; no files, no clock.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

PRODUCT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_RELEASES = 2_000
MAX_PRODUCTS = 2_000


class DataError(ValueError):
    """The file is not end-of-life data we can read; the message says what is wrong."""


@dataclass(frozen=True)
class Release:
    cycle: str  # "12", "22.04", "3.11", "11-24h2-w"
    eol: date | None  # end of regular (security) support; None: not announced or unknown
    ended: bool = False  # known to be past its end even when the date is not given
    codename: str = ""
    released: date | None = None
    extended: date | None = None  # end of LTS / ESM / extended support, when there is one
    lts: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "eol": _iso(self.eol),
            "ended": self.ended,
            "codename": self.codename,
            "released": _iso(self.released),
            "extended": _iso(self.extended),
            "lts": self.lts,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Release:
        return cls(
            cycle=str(data["cycle"]),
            eol=_date_or_none(data.get("eol")),
            ended=bool(data.get("ended", False)),
            codename=str(data.get("codename") or ""),
            released=_date_or_none(data.get("released")),
            extended=_date_or_none(data.get("extended")),
            lts=bool(data.get("lts", False)),
        )


@dataclass(frozen=True)
class Product:
    name: str  # endoflife.date's product id: "debian", "python", "windows"
    releases: tuple[Release, ...]
    label: str = ""

    def release(self, cycle: str) -> Release | None:
        for r in self.releases:
            if r.cycle.lower() == cycle.lower():
                return r
        return None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _date_or_none(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _date(value: Any, where: str) -> date | None:
    """A YYYY-MM-DD string (a longer ISO timestamp is cut to its date), or None for empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DataError(f"{where}: {value!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise DataError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _eol(value: Any, where: str) -> tuple[date | None, bool]:
    """endoflife.date's eol: a date, true (ended, no date) or false (no end announced)."""
    if isinstance(value, bool):
        return None, value
    return _date(value, where), False


def _product_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not PRODUCT_PATTERN.match(value.lower()):
        raise DataError(f"{where}: {value!r} is not a product name (like debian or python)")
    return value.lower()


def _cycle(value: Any, where: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise DataError(f"{where}: {value!r} is not a release name")
    return value.strip()


# ---- endoflife.date JSON ----------------------------------------------------------------------


def _v1_release(item: Any, where: str) -> Release:
    if not isinstance(item, dict):
        raise DataError(f"{where}: a release must be an object")
    eol, ended = _eol(item.get("eolFrom"), f"{where} eolFrom")
    ended = ended or (bool(item.get("isEol")) and eol is None)
    return Release(
        cycle=_cycle(item.get("name"), f"{where} name"),
        eol=eol,
        ended=ended,
        codename=str(item.get("codename") or "")[:100],
        released=_date(item.get("releaseDate"), f"{where} releaseDate"),
        extended=_eol(item.get("eoesFrom"), f"{where} eoesFrom")[0],
        lts=bool(item.get("isLts")),
    )


def _v0_release(item: Any, where: str) -> Release:
    if not isinstance(item, dict):
        raise DataError(f"{where}: a cycle must be an object")
    eol, ended = _eol(item.get("eol"), f"{where} eol")
    extended = item.get("extendedSupport")
    return Release(
        cycle=_cycle(item.get("cycle"), f"{where} cycle"),
        eol=eol,
        ended=ended,
        codename=str(item.get("codename") or "")[:100],
        released=_date(item.get("releaseDate"), f"{where} releaseDate"),
        extended=None if isinstance(extended, bool) else _date(extended, f"{where} extended"),
        lts=bool(item.get("lts")),
    )


def _releases(items: Any, where: str, one: Any) -> tuple[Release, ...]:
    if not isinstance(items, list) or not items:
        raise DataError(f"{where}: no releases")
    if len(items) > MAX_RELEASES:
        raise DataError(f"{where}: more than {MAX_RELEASES} releases")
    releases = [one(item, f"{where} release {i + 1}") for i, item in enumerate(items)]
    cycles = [r.cycle.lower() for r in releases]
    if len(set(cycles)) != len(cycles):
        raise DataError(f"{where}: a release is listed twice")
    return tuple(releases)


def _v1_product(item: Any, where: str) -> Product:
    if not isinstance(item, dict):
        raise DataError(f"{where}: a product must be an object")
    name = _product_name(item.get("name"), f"{where} name")
    releases = _releases(item.get("releases"), name, _v1_release)
    return Product(name, releases, str(item.get("label") or name)[:200])


def parse_endoflife(text: str, product: str | None = None) -> list[Product]:
    """Products from endoflife.date JSON (v1 catalogue or product, or a v0 list of cycles)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DataError(f"not JSON: {exc}") from None
    if isinstance(data, list):  # v0: one product's cycles; the name comes from outside
        if product is None:
            raise DataError("a list of cycles names no product: say which (--product)")
        name = _product_name(product, "product")
        return [Product(name, _releases(data, name, _v0_release), name)]
    if not isinstance(data, dict) or "result" not in data:
        raise DataError("not endoflife.date data: expected a list of cycles or {'result': ...}")
    result = data["result"]
    if isinstance(result, dict):
        return [_v1_product(result, "result")]
    if not isinstance(result, list) or not result:
        raise DataError("result: no products")
    if len(result) > MAX_PRODUCTS:
        raise DataError(f"result: more than {MAX_PRODUCTS} products")
    products = [_v1_product(item, f"product {i + 1}") for i, item in enumerate(result)]
    names = [p.name for p in products]
    if len(set(names)) != len(names):
        raise DataError("result: a product is listed twice")
    return products


def data_date_of(text: str) -> date | None:
    """The date a JSON file says it was made (generated_at / fetched_at), when it says so."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict):
        for key in ("generated_at", "fetched_at", "last_modified"):
            try:
                found = _date(data.get(key), key)
            except DataError:
                continue
            if found:
                return found
    return None


# ---- distro-info CSV --------------------------------------------------------------------------

_DISTRO_INFO_HEAD = ["version", "codename", "series", "created", "release", "eol"]
# The column that ends the longest support each file knows (free or paid, it still ends).
_EXTENDED = {"debian": ("eol-lts",), "ubuntu": ("eol-esm", "eol-server")}


def parse_distro_info(text: str, product: str | None = None) -> Product:
    """debian.csv or ubuntu.csv; the product is told by its columns when not named.

    Rows without a version (sid, experimental) or without a release date (not released yet)
    are left out: nothing runs them as a release with an end.
    """
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip() for c in rows[0][:6]] != _DISTRO_INFO_HEAD:
        raise DataError("not distro-info CSV: the header must start " + ",".join(_DISTRO_INFO_HEAD))
    head = [c.strip() for c in rows[0]]
    if product is None:
        if "eol-esm" in head or "eol-server" in head:
            product = "ubuntu"
        elif "eol-lts" in head:
            product = "debian"
        else:
            raise DataError("distro-info CSV of an unknown distribution: say which (--product)")
    name = _product_name(product, "product")
    releases = []
    for n, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) > len(head):
            raise DataError(f"line {n}: more fields than the header names")
        cells = dict(zip(head, (c.strip() for c in row), strict=False))
        version = cells.get("version", "")
        released = _date(cells.get("release"), f"line {n} release")
        if not version or released is None:
            continue
        extended = None
        for column in _EXTENDED.get(name, ()):
            extended = _date(cells.get(column), f"line {n} {column}") or extended
            if extended:
                break
        releases.append(
            Release(
                cycle=_cycle(version.removesuffix(" LTS"), f"line {n} version"),
                eol=_date(cells.get("eol"), f"line {n} eol"),
                codename=cells.get("codename", "")[:100],
                released=released,
                extended=extended,
                lts=version.endswith(" LTS"),
            )
        )
    if not releases:
        raise DataError("no released versions in the file")
    if len(releases) > MAX_RELEASES:
        raise DataError(f"more than {MAX_RELEASES} releases")
    return Product(name, tuple(releases), name.capitalize())


def parse_file(filename: str, text: str, product: str | None = None) -> list[Product]:
    """Either format, told apart by its first character (JSON starts with [ or {)."""
    stem = filename.rsplit("/", 1)[-1].split(".", 1)[0].lower()
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        name = product or (stem if PRODUCT_PATTERN.match(stem) else None)
        return parse_endoflife(text, name)
    hint = product or (stem if stem in _EXTENDED else None)
    return [parse_distro_info(text, hint)]


# ---- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """A release of a product, found from an inventory's words."""

    product: str
    cycle: str
    name: str  # how to say it: "Debian 11", "Python 3.9"


_MAJOR_ONLY = {"rhel", "centos", "rocky", "almalinux", "ol", "debian", "fedora"}
_OS_LABELS = {
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "rhel": "Red Hat Enterprise Linux",
    "centos": "CentOS",
    "rocky": "Rocky Linux",
    "almalinux": "AlmaLinux",
    "fedora": "Fedora",
}
# endoflife.date product ids for the os-release IDs whose names differ.
_OS_PRODUCTS = {"rocky": "rocky-linux", "ol": "oracle-linux"}
# Windows builds (the third part of 10.0.BUILD) -> endoflife.date's "windows" cycle. The
# edition is not in the inventory: the Home/Pro ("-w") dates are used, the earlier ones.
_WINDOWS_BUILDS = {
    10240: "10-1507",
    19045: "10-22h2",
    22000: "11-21h2-w",
    22621: "11-22h2-w",
    22631: "11-23h2-w",
    26100: "11-24h2-w",
    26200: "11-25h2-w",
}
_WINDOWS_SERVER = re.compile(
    r"(?:server\s*(20\d\d(?:\s*r2)?))|(?:(20\d\d(?:\s*r2)?)\s*server)", re.I
)
_BUILD = re.compile(r"\b10\.0\.(\d{4,5})\b")


def _windows(os_name: str, os_version: str, kernel: str) -> Match | None:
    words = " ".join((os_name, os_version, kernel))
    server = _WINDOWS_SERVER.search(words)
    if server:
        year = (server.group(1) or server.group(2)).lower().replace(" ", "")
        cycle = year.replace("r2", "-r2")
        return Match("windows-server", cycle, f"Windows Server {year.upper().replace('R2', ' R2')}")
    build = _BUILD.search(words)
    if build:
        cycle = _WINDOWS_BUILDS.get(int(build.group(1)))
        if cycle:
            major, feature = cycle.split("-")[:2]
            return Match("windows", cycle, f"Windows {major} {feature.upper()}")
        return None
    if re.search(r"\b10\b", os_version or kernel):
        # Every Windows 10 release ends with 22H2's end: without the build, that is the date.
        return Match("windows", "10-22h2", "Windows 10")
    return None


def match_os(os_id: str, os_name: str = "", os_version: str = "", kernel: str = "") -> Match | None:
    """The release an inventory's System section names (os-release ID and VERSION_ID)."""
    os_id = os_id.strip().lower()
    if os_id == "windows" or os_name.lower().startswith("windows"):
        return _windows(os_name, os_version, kernel)
    version = os_version.strip()
    if not os_id or not re.match(r"^\d+(\.\d+)*$", version):
        return None
    if os_id in _MAJOR_ONLY:
        version = version.split(".")[0]
    product = _OS_PRODUCTS.get(os_id, os_id)
    label = _OS_LABELS.get(os_id, os_name.strip() or os_id)
    return Match(product, version, f"{label} {version}")


@dataclass(frozen=True)
class _Rule:
    product: str
    label: str
    pattern: re.Pattern[str]  # on the package name; group "cycle" when the name holds it
    from_version: int = 0  # else: the cycle is the version's first N numbers


_PACKAGE_RULES = (
    # Debian/Ubuntu name the interpreter by its version: python3.11, postgresql-15.
    _Rule("python", "Python", re.compile(r"^python(?P<cycle>3\.\d+)(?:-minimal)?$")),
    _Rule("python", "Python", re.compile(r"^python (?P<cycle>3\.\d+)\.\d+", re.I)),
    _Rule("postgresql", "PostgreSQL", re.compile(r"^postgresql-(?P<cycle>\d+)$")),
    _Rule("postgresql", "PostgreSQL", re.compile(r"^postgresql (?P<cycle>\d+)\b", re.I)),
    _Rule("php", "PHP", re.compile(r"^php(?P<cycle>\d+\.\d+)(?:-(?:cli|common|fpm))?$")),
    _Rule("nodejs", "Node.js", re.compile(r"^(?:nodejs|node\.js)$", re.I), from_version=1),
    _Rule("mysql", "MySQL", re.compile(r"^mysql-server-(?P<cycle>\d+\.\d+)$")),
    _Rule("mariadb", "MariaDB", re.compile(r"^mariadb-server(?:-core)?$"), from_version=2),
)
_EPOCH = re.compile(r"^\d+:")


def _version_cycle(version: str, parts: int) -> str | None:
    numbers = re.match(r"^(\d+(?:\.\d+)*)", _EPOCH.sub("", version.strip()))
    if numbers is None:
        return None
    split = numbers.group(1).split(".")
    return ".".join(split[:parts]) if len(split) >= parts else None


def match_package(name: str, version: str = "") -> Match | None:
    """The release of a product an installed package is, for the software we know to watch."""
    for rule in _PACKAGE_RULES:
        found = rule.pattern.match(name.strip())
        if found is None:
            continue
        cycle = (
            _version_cycle(version, rule.from_version)
            if rule.from_version
            else found.group("cycle")
        )
        if cycle:
            return Match(rule.product, cycle, f"{rule.label} {cycle}")
    return None


def match_packages(packages: Iterable[Mapping[str, Any]]) -> list[Match]:
    """Each product release once, however many of its packages are installed."""
    seen: dict[tuple[str, str], Match] = {}
    for package in packages:
        match = match_package(str(package.get("name", "")), str(package.get("version", "")))
        if match is not None:
            seen.setdefault((match.product, match.cycle), match)
    return list(seen.values())


def lookup(products: Mapping[str, Product], match: Match) -> Release | None:
    product = products.get(match.product)
    return product.release(match.cycle) if product else None


def merge(
    sources: Sequence[tuple[date | None, Sequence[Product]]],
) -> dict[str, tuple[int, Product]]:
    """Per product, the newest source wins (answered with its index in `sources`); on equal
    dates the later source in the list: order them from the least to the most deliberate."""
    chosen: dict[str, tuple[date, int, Product]] = {}
    for index, (when, products) in enumerate(sources):
        at = when or date.min
        for product in products:
            held = chosen.get(product.name)
            if held is None or at >= held[0]:
                chosen[product.name] = (at, index, product)
    return {name: (index, product) for name, (_, index, product) in chosen.items()}
