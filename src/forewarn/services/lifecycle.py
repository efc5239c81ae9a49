"""The end-of-life table in force: shipped, read from this machine, or imported.

Three sources, each dated; per product the newest wins (on a tie: imported over distro-info
over shipped):
- the table shipped in forewarn/data/endoflife.json (its `generated_at`);
- Debian's distro-info CSVs in /usr/share/distro-info when present (dated by the file);
- files imported with `forewarn data import`, kept in the database so that every server
  process reads the same (dated by the file's own date, else the day of the import).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain.lifecycle import (
    DataError,
    Product,
    Release,
    data_date_of,
    merge,
    parse_distro_info,
    parse_endoflife,
    parse_file,
)
from forewarn.services.context import Context
from forewarn.services.errors import invalid
from forewarn.store.models import LifecycleProduct

DISTRO_INFO_DIR = Path("/usr/share/distro-info")
MAX_FILE_BYTES = 50 * 1024 * 1024
SHIPPED = "shipped"
DISTRO_INFO = "distro-info"
IMPORTED = "imported"


@dataclass(frozen=True)
class Source:
    kind: str  # shipped | distro-info | imported
    name: str  # the file it came from
    data_date: date | None
    products: tuple[Product, ...]


@dataclass(frozen=True)
class ProductStatus:
    product: str
    label: str
    releases: int
    source: str  # kind and file
    data_date: date | None
    in_force: bool  # False: a newer source of the same product wins


@lru_cache(maxsize=1)
def shipped() -> Source:
    text = resources.files("forewarn").joinpath("data/endoflife.json").read_text("utf-8")
    products = tuple(parse_endoflife(text))
    return Source(SHIPPED, "forewarn/data/endoflife.json", data_date_of(text), products)


def distro_info(directory: Path | None = None) -> list[Source]:
    """The distro-info CSVs of this machine; a file that cannot be read is left out."""
    found = []
    folder = directory or DISTRO_INFO_DIR
    for name in ("debian", "ubuntu"):
        path = folder / f"{name}.csv"
        try:
            text = path.read_text("utf-8")
            stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC).date()
            product = parse_distro_info(text, name)
        except (OSError, UnicodeDecodeError, DataError):
            continue
        found.append(Source(DISTRO_INFO, str(path), stamp, (product,)))
    return found


def imported(session: Session) -> list[Source]:
    rows = session.scalars(select(LifecycleProduct).order_by(LifecycleProduct.product))
    return [
        Source(
            IMPORTED,
            row.source,
            row.data_date,
            (
                Product(
                    row.product,
                    tuple(Release.from_json(r) for r in row.releases),
                    row.label,
                ),
            ),
        )
        for row in rows
    ]


def sources(session: Session) -> list[Source]:
    """From the least to the most deliberate, the order `merge` breaks ties by."""
    return [shipped(), *distro_info(), *imported(session)]


def table(session: Session) -> dict[str, Product]:
    """product name -> the product as the newest source knows it."""
    chosen = merge([(s.data_date, s.products) for s in sources(session)])
    return {name: product for name, (_, product) in chosen.items()}


def status(ctx: Context) -> list[ProductStatus]:
    with ctx.db.read() as session:
        found = sources(session)
    chosen = merge([(s.data_date, s.products) for s in found])
    out = []
    for index, source in enumerate(found):
        for product in source.products:
            out.append(
                ProductStatus(
                    product=product.name,
                    label=product.label or product.name,
                    releases=len(product.releases),
                    source=f"{source.kind}: {source.name}",
                    data_date=source.data_date,
                    in_force=chosen[product.name][0] == index,
                )
            )
    return sorted(out, key=lambda s: (s.product, not s.in_force, s.source))


def import_file(
    ctx: Context,
    filename: str,
    raw: bytes,
    *,
    product: str | None = None,
    data_date: date | None = None,
) -> list[ProductStatus]:
    """Store the products of an endoflife.date JSON or distro-info CSV file, replacing what
    was imported of those products before. A file that cannot be read whole is refused
    (422, saying why) and nothing changes."""
    if len(raw) > MAX_FILE_BYTES:
        raise invalid(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid("the file is not UTF-8 text") from None
    try:
        products = parse_file(filename, text, product)
    except DataError as exc:
        raise invalid(f"{filename}: {exc}") from None
    now = ctx.clock.now()
    when = data_date or data_date_of(text) or now.date()
    kind = "endoflife.date JSON" if text.lstrip().startswith(("[", "{")) else "distro-info CSV"
    source = f"{Path(filename).name} ({kind})"[:300]
    with ctx.db.transaction() as session:
        for item in products:
            row = session.get(LifecycleProduct, item.name)
            if row is None:
                row = LifecycleProduct(product=item.name)
                session.add(row)
            row.label = (item.label or item.name)[:200]
            row.source, row.data_date, row.imported_at = source, when, now
            row.releases = [r.to_json() for r in item.releases]
    names = {p.name for p in products}
    return [s for s in status(ctx) if s.product in names and s.source.startswith(IMPORTED)]
