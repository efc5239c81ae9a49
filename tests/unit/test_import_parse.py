"""Reading an inventory spreadsheet: what the file says, and exactly which lines are wrong."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.domain.inventory import AssetKind
from forewarn.services.errors import ServiceError
from forewarn.services.importing import ParsedInventory, parse_inventory
from forewarn.services.schemas import AssetCreate


def parse(text: str, **kwargs: int) -> ParsedInventory:
    return parse_inventory(text.encode(), org_id=7, **kwargs)


def file_error(data: bytes, *, located: bool = True, **kwargs: int) -> ServiceError:
    """The whole file refused; `located` problems also say on which line."""
    with pytest.raises(ServiceError) as caught:
        parse_inventory(data, org_id=7, **kwargs)
    assert caught.value.status == 422
    assert bool(caught.value.errors) == located
    return caught.value


def problems(parsed: ParsedInventory) -> list[tuple[int, str]]:
    return [(e.line, e.column) for e in parsed.errors]


def test_plain_file_becomes_asset_create_values() -> None:
    parsed = parse(
        "name,kind,hostname,site,criticality,owner,location,purchase_date,warranty_end,tags,notes\n"
        "fs01,server,fs01.acme.local,HQ,5,Anna,Rack 2,2022-03-01,2027-02-28,linux;backup,main\n"
    )
    assert parsed.errors == []
    [row] = parsed.rows
    assert row.line == 2
    assert row.site == "HQ"
    assert row.asset == AssetCreate(
        org_id=7,
        name="fs01",
        kind=AssetKind.SERVER,
        hostname="fs01.acme.local",
        criticality=5,
        owner="Anna",
        location="Rack 2",
        purchase_date=date(2022, 3, 1),
        warranty_end=date(2027, 2, 28),
        tags=["backup", "linux"],
        notes="main",
    )


def test_empty_cells_mean_not_given() -> None:
    [row] = parse("name,kind,criticality,warranty_end,site\npc-1,laptop,,,\n").rows
    assert row.asset.criticality == 3
    assert row.asset.warranty_end is None
    assert row.site == ""


def test_excel_bom_is_not_part_of_the_first_column_name() -> None:
    parsed = parse_inventory(b"\xef\xbb\xbfname,kind\r\npc-1,laptop\r\n", org_id=7)
    assert [r.asset.name for r in parsed.rows] == ["pc-1"]


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_delimiter_is_sniffed(delimiter: str) -> None:
    # The notes hold the other delimiters, so a wrong guess would split or merge cells.
    text = delimiter.join(["name", "kind", "notes"]) + "\n"
    text += delimiter.join(["pc-1", "workstation", '"a, b; c"']) + "\n"
    [row] = parse(text).rows
    assert row.asset.notes == "a, b; c"


def test_header_aliases_case_spaces_and_hyphens() -> None:
    parsed = parse(
        "Asset Name;Asset-Type;FQDN;Warranty Expires;Purchased;TAGS;Site\n"
        "fs01;Server;fs01.local;31.12.2027;2021-01-15;a;HQ\n"
    )
    [row] = parsed.rows
    assert row.asset.name == "fs01"
    assert row.asset.kind == AssetKind.SERVER
    assert row.asset.hostname == "fs01.local"
    assert row.asset.warranty_end == date(2027, 12, 31)
    assert row.asset.purchase_date == date(2021, 1, 15)
    assert row.site == "HQ"
    assert parse("asset,type,host\nx,pc,h1\n").rows[0].asset.hostname == "h1"


def test_unknown_column_refuses_the_whole_file_and_lists_accepted_names() -> None:
    error = file_error(b"name,kind,serial\npc-1,laptop,XYZ123\n")
    assert error.errors == [{"line": 1, "column": "serial", "message": "unknown column 'serial'"}]
    assert "serial" in error.detail
    assert "name, kind, hostname, site" in error.detail


def test_missing_required_column_is_named() -> None:
    error = file_error(b"name,hostname\npc-1,h\n")
    assert [(e["column"], e["message"]) for e in error.errors] == [
        ("kind", "the required column 'kind' is missing")
    ]


def test_two_columns_meaning_the_same_field_are_refused() -> None:
    error = file_error(b"name,asset name,kind\na,b,server\n")
    assert "both mean 'name'" in error.detail


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("Network device", AssetKind.NETWORK_DEVICE),
        ("network-device", AssetKind.NETWORK_DEVICE),
        ("SWITCH", AssetKind.NETWORK_DEVICE),
        ("Access Point", AssetKind.NETWORK_DEVICE),
        ("firewall", AssetKind.NETWORK_DEVICE),
        ("PC", AssetKind.WORKSTATION),
        ("Desktop", AssetKind.WORKSTATION),
        ("notebook", AssetKind.LAPTOP),
        ("NAS", AssetKind.SERVER),
        ("Cloud service", AssetKind.CLOUD_SERVICE),
        ("UPS", AssetKind.UPS),
    ],
)
def test_kind_synonyms(written: str, kind: AssetKind) -> None:
    assert parse(f"name,kind\nx,{written}\n").rows[0].asset.kind == kind


def test_unknown_kind_names_the_choices() -> None:
    parsed = parse("name,Type\nx,toaster\n")
    [error] = parsed.errors
    assert (error.line, error.column) == (2, "Type")
    assert "toaster" in error.message
    assert "network_device" in error.message


@pytest.mark.parametrize("cell", ["b;A;b", "b|a", '"b, a"', " a ; ; b "])
def test_tags_split_on_semicolon_pipe_or_comma(cell: str) -> None:
    [row] = parse(f"name,kind,tags\nx,server,{cell}\n").rows
    assert row.asset.tags == ["a", "b"]


def test_bad_tag_is_named() -> None:
    [error] = parse("name,kind,tags\nx,server,ok|not ok\n").errors
    assert error.column == "tags"
    assert "'not ok'" in error.message


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024-02-01", date(2024, 2, 1)),
        ("01.02.2024", date(2024, 2, 1)),
        ("1.2.2024", date(2024, 2, 1)),
    ],
)
def test_dates_iso_and_dotted(cell: str, expected: date) -> None:
    assert parse(f"name,kind,warranty\nx,server,{cell}\n").rows[0].asset.warranty_end == expected


def test_slashed_dates_are_refused_as_ambiguous() -> None:
    [error] = parse("name,kind,warranty\nx,server,01/02/2024\n").errors
    assert (error.line, error.column) == (2, "warranty")
    assert "ambiguous" in error.message
    assert "YYYY-MM-DD" in error.message


@pytest.mark.parametrize("cell", ["2024-02-30", "next year", "1970-01-01"])
def test_impossible_or_implausible_dates_are_row_errors(cell: str) -> None:
    parsed = parse(f"name,kind,purchase_date\nx,server,{cell}\n")
    assert problems(parsed) == [(2, "purchase_date")]
    assert parsed.rows == []


def test_api_rules_apply_per_cell() -> None:
    parsed = parse(
        "name,kind,criticality,hostname\n"
        "ok,server,5,fs01\n"
        "high,server,9,fs02\n"
        "badhost,server,3,not a host\n"
        ",server,3,fs04\n"
    )
    assert [r.asset.name for r in parsed.rows] == ["ok"]
    assert problems(parsed) == [(3, "criticality"), (4, "hostname"), (5, "name")]
    assert parsed.bad_rows == 3
    assert parsed.total == 4


def test_duplicate_name_is_an_error_on_the_later_line() -> None:
    parsed = parse("name,kind\nfs01,server\npc-1,laptop\nfs01,workstation\n")
    assert [r.asset.name for r in parsed.rows] == ["fs01", "pc-1"]
    [error] = parsed.errors
    assert (error.line, error.column, error.message) == (4, "name", "same name as line 2")


def test_line_numbers_count_quoted_multiline_cells_and_blank_lines() -> None:
    text = (
        "name,kind,notes\n"  # 1
        'fs01,server,"first line\n'  # 2
        "second line\n"  # 3
        'third line"\n'  # 4
        "\n"  # 5: blank, skipped
        "pc-1,toaster,\n"  # 6
        ",,\n"  # 7: all cells empty, skipped
        'pc-2,laptop,"x\r\ny"\n'  # 8-9
        "pc-3,fridge,\n"  # 10
    )
    parsed = parse(text)
    assert [(r.line, r.asset.name) for r in parsed.rows] == [(2, "fs01"), (8, "pc-2")]
    assert parsed.rows[0].asset.notes == "first line\nsecond line\nthird line"
    assert problems(parsed) == [(6, "kind"), (10, "kind")]


def test_extra_cells_beyond_the_header_are_a_row_error() -> None:
    parsed = parse("name,kind\npc-1,laptop,surprise\npc-2,laptop,\n")
    assert problems(parsed) == [(2, "")]
    assert [r.asset.name for r in parsed.rows] == ["pc-2"]


def test_not_utf8_names_offset_and_line() -> None:
    data = "name,kind,owner\npc-1,laptop,Jürgen\n".encode("latin-1")
    error = file_error(data)
    assert error.errors[0]["line"] == 2
    assert "UTF-8" in error.detail
    assert f"offset {data.index(0xFC)}" in error.detail


def test_empty_and_header_only_files_are_refused() -> None:
    assert "empty" in file_error(b"").detail
    assert "empty" in file_error(b"\n\n").detail
    assert "no rows" in file_error(b"name,kind\n").detail


def test_unclosed_quote_is_a_file_error_at_its_line() -> None:
    error = file_error(
        b'name,kind,notes\npc-1,laptop,ok\npc-2,laptop,"never closed\npc-3,laptop,\n'
    )
    assert error.errors[0]["line"] == 3


def test_bounds_on_rows_and_bytes_are_explained() -> None:
    rows = "name,kind\n" + "".join(f"pc-{i},laptop\n" for i in range(4))
    assert len(parse(rows, max_rows=4).rows) == 4
    error = file_error(rows.encode(), max_rows=3)
    assert "more than 3 rows" in error.detail
    error = file_error(rows.encode(), located=False, max_bytes=10)
    assert "at most 10 bytes" in error.detail


# ---- property: whatever csv.writer writes, we read back --------------------------------------

_free_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(list(',;\t"|\n\r')),
    max_size=40,
).map(str.strip)
_tags = st.lists(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,15}", fullmatch=True), max_size=4)
_dates = st.dates(min_value=date(1980, 1, 1), max_value=date(2100, 12, 31))


@st.composite
def _asset_row(draw: st.DrawFn) -> dict[str, object]:
    return {
        "name": draw(_free_text.filter(bool)),
        "kind": draw(st.sampled_from(list(AssetKind))),
        "hostname": draw(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,30}", fullmatch=True)),
        "criticality": draw(st.integers(1, 5)),
        "owner": draw(_free_text),
        "purchase_date": draw(st.none() | _dates),
        "warranty_end": draw(st.none() | _dates),
        "tags": draw(_tags),
        "notes": draw(_free_text),
    }


def _cell(key: str, value: object, dotted: bool, tag_sep: str) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y") if dotted else value.isoformat()
    if isinstance(value, list):
        return tag_sep.join(value)
    if isinstance(value, AssetKind):
        return value.value.replace("_", " ").title() if dotted else value.value
    return str(value)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(_asset_row(), min_size=1, max_size=8, unique_by=lambda r: r["name"]),
    delimiter=st.sampled_from([",", ";", "\t"]),
    dotted=st.booleans(),
    tag_sep=st.sampled_from([";", "|", ","]),
    bom=st.booleans(),
)
def test_rows_written_by_csv_writer_read_back_as_the_same_assets(
    rows: list[dict[str, object]], delimiter: str, dotted: bool, tag_sep: str, bom: bool
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(list(rows[0]))
    for row in rows:
        writer.writerow([_cell(k, v, dotted, tag_sep) for k, v in row.items()])
    data = ("\ufeff" if bom else "") + buffer.getvalue()
    parsed = parse_inventory(data.encode(), org_id=7)
    assert parsed.errors == []
    expected = [
        AssetCreate.model_validate({"org_id": 7, **{k: v for k, v in r.items() if v is not None}})
        for r in rows
    ]
    assert [r.asset for r in parsed.rows] == expected
