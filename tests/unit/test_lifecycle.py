"""End-of-life data: both formats read, bad files refused with a reason, inventories matched."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from forewarn.domain.lifecycle import (
    DataError,
    Match,
    Product,
    Release,
    lookup,
    match_os,
    match_package,
    match_packages,
    merge,
    parse_distro_info,
    parse_endoflife,
    parse_file,
)

SHIPPED = Path(__file__).parents[2] / "src/forewarn/data/endoflife.json"

UBUNTU_CSV = """version,codename,series,created,release,eol,eol-server,eol-esm
20.04 LTS,Focal Fossa,focal,2019-10-17,2020-04-23,2025-05-29,2025-05-29,2030-04-23
22.04 LTS,Jammy Jellyfish,jammy,2021-10-14,2022-04-21,2027-06-01,2027-06-01,2032-04-21
23.04,Lunar Lobster,lunar,2022-10-20,2023-04-20,2024-01-25
99.04,Future Fox,future,2030-10-20
"""
DEBIAN_CSV = """version,codename,series,created,release,eol,eol-lts,eol-elts
11,Bullseye,bullseye,2019-07-06,2021-08-14,2024-08-14,2026-08-31,2031-06-30
12,Bookworm,bookworm,2021-08-14,2023-06-10,2026-07-11,2028-06-30,2033-06-30
,Sid,sid,1993-08-16
"""


def test_distro_info_csv_is_read_and_named_by_its_columns() -> None:
    ubuntu = parse_distro_info(UBUNTU_CSV)
    assert ubuntu.name == "ubuntu"
    jammy = ubuntu.release("22.04")
    assert jammy == Release(
        "22.04",
        date(2027, 6, 1),
        codename="Jammy Jellyfish",
        released=date(2022, 4, 21),
        extended=date(2032, 4, 21),
        lts=True,
    )
    assert ubuntu.release("99.04") is None  # not released: nothing runs it yet
    debian = parse_distro_info(DEBIAN_CSV)
    assert debian.name == "debian" and [r.cycle for r in debian.releases] == ["11", "12"]
    assert debian.release("12").extended == date(2028, 6, 30)  # type: ignore[union-attr]


def test_this_machines_distro_info_files_read_when_present() -> None:
    for path in Path("/usr/share/distro-info").glob("*.csv"):
        product = parse_distro_info(path.read_text())
        assert product.name == path.stem and len(product.releases) > 5


def test_endoflife_v0_list_and_v1_catalogue() -> None:
    v0 = json.dumps(
        [
            {"cycle": "3.13", "eol": "2029-10-31", "releaseDate": "2024-10-07"},
            {"cycle": "2.7", "eol": True},
            {"cycle": "3.14", "eol": False},
        ]
    )
    (python,) = parse_endoflife(v0, "python")
    assert python.release("3.13").eol == date(2029, 10, 31)  # type: ignore[union-attr]
    old = python.release("2.7")
    assert old is not None and old.eol is None and old.ended
    assert python.release("3.14") == Release("3.14", None)
    shipped = parse_endoflife(SHIPPED.read_text())
    names = {p.name for p in shipped}
    assert {
        "debian",
        "ubuntu",
        "rhel",
        "windows",
        "windows-server",
        "python",
        "postgresql",
    } <= names


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json at all", "not JSON"),
        ("plain words", "not distro-info CSV"),
        ('{"nothing": 1}', "not endoflife.date data"),
        ('[{"cycle": "1", "eol": "2020-13-45"}]', "not a date"),
        ('[{"eol": "2020-01-01"}]', "not a release name"),
        ('{"result": [{"name": "Bad Name!", "releases": [{"name": "1"}]}]}', "not a product"),
        ('{"result": [{"name": "x", "releases": []}]}', "no releases"),
        ('[{"cycle": "1"}, {"cycle": "1"}]', "listed twice"),
        ("version,codename\n1,a\n", "not distro-info CSV"),
    ],
)
def test_bad_files_are_refused_with_the_reason(text: str, words: str) -> None:
    with pytest.raises(DataError, match=words):
        parse_file("python.json", text)


def test_a_list_of_cycles_needs_a_product_name() -> None:
    with pytest.raises(DataError, match="names no product"):
        parse_endoflife('[{"cycle": "1", "eol": false}]')
    assert parse_file("nodejs.json", '[{"cycle": "20", "eol": "2026-04-30"}]')[0].name == "nodejs"


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        (("debian", "Debian GNU/Linux", "12"), Match("debian", "12", "Debian 12")),
        (("ubuntu", "Ubuntu", "22.04"), Match("ubuntu", "22.04", "Ubuntu 22.04")),
        (("rhel", "Red Hat", "9.3"), Match("rhel", "9", "Red Hat Enterprise Linux 9")),
        (("rocky", "Rocky Linux", "8.9"), Match("rocky-linux", "8", "Rocky Linux 8")),
        (("windows", "Windows", "10.0.19045"), Match("windows", "10-22h2", "Windows 10 22H2")),
        (("windows", "Windows", "10.0.26100"), Match("windows", "11-24h2-w", "Windows 11 24H2")),
        (
            ("windows", "Windows Server 2019 Standard", ""),
            Match("windows-server", "2019", "Windows Server 2019"),
        ),
        (("arch", "Arch Linux", ""), None),  # rolling: no version, no end
        (("debian", "Debian", "trixie/sid"), None),
    ],
)
def test_operating_system_to_release(system: tuple[str, str, str], expected: Match | None) -> None:
    assert match_os(*system) == expected


def test_windows_server_from_the_kernel_words() -> None:
    assert match_os("windows", "Windows", "", "2022Server") == Match(
        "windows-server", "2022", "Windows Server 2022"
    )


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("python3.11", "3.11.2-6", Match("python", "3.11", "Python 3.11")),
        ("Python 3.9.13 (64-bit)", "3.9.13150.0", Match("python", "3.9", "Python 3.9")),
        ("postgresql-15", "15.6-0+deb12u1", Match("postgresql", "15", "PostgreSQL 15")),
        ("nodejs", "18.19.0+dfsg-6~deb12u1", Match("nodejs", "18", "Node.js 18")),
        ("mariadb-server", "1:10.11.6-0+deb12u1", Match("mariadb", "10.11", "MariaDB 10.11")),
        ("php8.2-cli", "8.2.7-1", Match("php", "8.2", "PHP 8.2")),
        ("python3", "3.11.2-1", None),  # the meta package: its python3.X names the release
        ("libpython3.11", "3.11.2-6", None),
    ],
)
def test_package_to_release(name: str, version: str, expected: Match | None) -> None:
    assert match_package(name, version) == expected


def test_each_release_once_per_machine() -> None:
    packages = [
        {"name": "python3.11", "version": "3.11.2"},
        {"name": "python3.11-minimal", "version": "3.11.2"},
        {"name": "bash", "version": "5.2"},
    ]
    assert match_packages(packages) == [Match("python", "3.11", "Python 3.11")]


def test_newest_source_wins_per_product() -> None:
    old = Product("debian", (Release("12", date(2026, 6, 10)),))
    new = Product("debian", (Release("12", date(2026, 7, 11)),))
    other = Product("python", (Release("3.11", date(2027, 10, 31)),))
    chosen = merge([(date(2025, 10, 1), [new, other]), (date(2025, 1, 1), [old])])
    assert chosen["debian"] == (0, new) and chosen["python"] == (0, other)
    products = {name: product for name, (_, product) in chosen.items()}
    assert lookup(products, Match("debian", "12", "Debian 12")).eol == date(2026, 7, 11)  # type: ignore[union-attr]
    assert lookup(products, Match("ubuntu", "22.04", "Ubuntu 22.04")) is None
