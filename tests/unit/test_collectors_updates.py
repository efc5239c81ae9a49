# ruff: noqa: E501
"""The pending-updates collector's parsers, on output captured from real machines."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from forewarn import wire
from forewarn.agent.collectors import updates

# apt-get -s -o Debug::NoLocking=1 dist-upgrade on Debian 12 (trimmed), with an Ubuntu line.
APT_SIM = """\
NOTE: This is only a simulation!
Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following packages will be upgraded:
  base-files bash libgcrypt20 liblzma5
Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.15/oldstable [amd64])
Inst libgcrypt20-dev [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64]) []
Inst liblzma5 [5.4.1-1] (5.4.1-1+deb12u2 Debian-Security:12/oldstable-security [amd64])
Inst linux-image-6.1.0-40-amd64 (6.1.153-1 Debian:12.15/oldstable [amd64])
Inst openssl [3.0.2-0ubuntu1.15] (3.0.2-0ubuntu1.18 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])
Conf base-files (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Conf bash (5.2.15-2+b13 Debian:12.15/oldstable [amd64])
"""

# dnf -q -C check-update on Rocky 9 (trimmed).
DNF = """\

kernel.x86_64                       5.14.0-427.42.1.el9_4           baseos
openssl-libs.x86_64                 1:3.0.7-27.el9                  baseos
python3-requests.noarch             2.25.1-8.el9                    appstream
Obsoleting Packages
grub2-tools.x86_64                  1:2.06-80.el9                   baseos
    grub2-tools.x86_64              1:2.06-77.el9                   @baseos
"""
DNF_SECURITY = """\
openssl-libs.x86_64                 1:3.0.7-27.el9                  baseos
"""

HISTORY = """\

Start-Date: 2025-06-24  14:36:25
Commandline: apt-get -qqy upgrade
Upgrade: libsystemd0:amd64 (252.36-1~deb12u1, 252.38-1~deb12u1)
End-Date: 2025-06-24  14:36:25

Start-Date: 2025-06-24  14:42:05
Commandline: apt-get install -qqy gcc
Install: gcc:amd64 (4:12.2.0-3)
End-Date: 2025-06-24  14:42:17

Start-Date: 2025-07-01  09:00:00
Commandline: apt-get -y upgrade
Upgrade: bash:amd64 (5.2.15-2+b7, 5.2.15-2+b8)
Error: Sub-process /usr/bin/dpkg returned an error code (1)
End-Date: 2025-07-01  09:00:05
"""


def test_apt_simulation() -> None:
    found = {u["name"]: u for u in updates.parse_apt_simulation(APT_SIM)}
    assert set(found) == {"base-files", "bash", "libgcrypt20-dev", "liblzma5", "openssl"}
    assert found["bash"] == {
        "name": "bash",
        "installed": "5.2.15-2+b8",
        "candidate": "5.2.15-2+b13",
        "arch": "amd64",
        "security": False,
        "origin": "Debian:12.15/oldstable",
        "source": "apt",
    }
    assert found["libgcrypt20-dev"]["security"] and found["liblzma5"]["security"]
    assert found["openssl"]["security"] and found["openssl"]["installed"] == "3.0.2-0ubuntu1.15"
    assert not found["base-files"]["security"]


def test_security_origins() -> None:
    assert updates.is_security_origin("Debian-Security:12/bookworm-security")
    assert updates.is_security_origin("Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security")
    assert not updates.is_security_origin("Debian:12.15/oldstable")
    assert not updates.is_security_origin("local:stable")


def test_dnf_check_update() -> None:
    found = updates.parse_dnf_check_update(DNF)
    assert [(u["name"], u["arch"], u["candidate"]) for u in found] == [
        ("kernel", "x86_64", "5.14.0-427.42.1.el9_4"),
        ("openssl-libs", "x86_64", "1:3.0.7-27.el9"),
        ("python3-requests", "noarch", "2.25.1-8.el9"),
    ]
    assert updates.parse_dnf_check_update(DNF_SECURITY)[0]["name"] == "openssl-libs"


def test_history_last_successful_upgrade() -> None:
    at = updates.parse_apt_history(HISTORY)
    expected = datetime(2025, 6, 24, 14, 36, 25).astimezone(UTC)
    assert at == expected  # the failed upgrade and the plain install do not count
    assert updates.parse_apt_history("") is None


DPKG_LOG = """\
2026-05-09 07:28:48 startup archives unpack
2026-05-09 07:28:48 upgrade tzdata:all 2025b-0+deb12u1 2025b-0+deb12u2
2026-05-09 07:28:48 status half-configured tzdata:all 2025b-0+deb12u1
2026-05-09 07:28:49 status unpacked tzdata:all 2025b-0+deb12u2
2026-05-09 07:28:50 status installed tzdata:all 2025b-0+deb12u2
2026-05-09 07:29:30 install lsof:amd64 <none> 4.95.0-1
2026-05-09 07:29:31 status installed lsof:amd64 4.95.0-1
2026-05-10 08:00:00 upgrade bash:amd64 5.2.15-2+b7 5.2.15-2+b8
2026-05-10 08:00:01 status half-installed bash:amd64 5.2.15-2+b7
"""


def test_dpkg_log_last_finished_upgrade() -> None:
    # bash's upgrade never finished; lsof was a new install, not an upgrade
    expected = datetime(2026, 5, 9, 7, 28, 50).astimezone(UTC)
    assert updates.parse_dpkg_log(DPKG_LOG) == expected
    assert updates.parse_dpkg_log("garbage\n") is None


def test_dpkg_log_when_apt_history_is_silent(tmp_path: Path) -> None:
    (tmp_path / "var/log/apt").mkdir(parents=True)
    (tmp_path / "var/log/dpkg.log").write_text(DPKG_LOG)
    expected = datetime(2026, 5, 9, 7, 28, 50).astimezone(UTC)
    assert updates.last_patched(str(tmp_path)) == expected


def _root(tmp_path: Path) -> Path:
    log = tmp_path / "var/log/apt"
    log.mkdir(parents=True)
    (log / "history.log").write_text("")
    with gzip.open(log / "history.log.1.gz", "wt") as f:
        f.write(HISTORY)
    return tmp_path


def test_collect_shape_and_reboot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _root(tmp_path)
    run = root / "var/run"
    run.mkdir(parents=True)
    (run / "reboot-required").write_text("*** System restart required ***\n")
    (run / "reboot-required.pkgs").write_text("linux-image-6.1.0-40-amd64\nlibc6\nlibc6\n")
    monkeypatch.setattr(
        updates, "SOURCES", {"apt": lambda r: updates.parse_apt_simulation(APT_SIM)}
    )
    section = updates.collect(str(root))
    assert section is not None
    assert section["sources"] == ["apt"]
    assert section["total"] == 5 and section["security_total"] == 3
    assert [u["security"] for u in section["pending"]][:3] == [True, True, True]
    assert section["reboot_required"] is True
    assert section["reboot_packages"] == ["libc6", "linux-image-6.1.0-40-amd64"]
    expected = datetime(2025, 6, 24, 14, 36, 25).astimezone(UTC).timestamp()
    assert section["last_patched"] == pytest.approx(expected)
    wire.Updates.model_validate(section)


def test_failed_source_leaves_the_section_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(updates, "SOURCES", {"apt": lambda r: [], "dnf": lambda r: updates.FAILED})
    assert updates.collect("/nonexistent") is None
    monkeypatch.setattr(updates, "SOURCES", {"apt": lambda r: None})
    assert updates.collect("/nonexistent") is None  # no package manager: nothing to say


def test_apt_argv_for_another_root() -> None:
    argv = updates.apt_argv("/srv/root/")
    assert argv[0] == "apt-get" and argv[-1] == "dist-upgrade"
    assert "Dir=/srv/root" in argv and "Dir::State::status=/srv/root/var/lib/dpkg/status" in argv
    assert not any(a.startswith("Dir=") for a in updates.apt_argv())


@pytest.mark.skipif(not os.path.exists("/usr/bin/apt-get"), reason="apt-get is not installed")
def test_this_machine_answers() -> None:
    section = updates.collect()
    assert section is not None
    wire.Updates.model_validate(section)


def test_a_manager_beside_the_machines_own_is_not_a_source(tmp_path: Path) -> None:
    """apt installed on an RPM machine, dnf on a Debian one (as this test machine has, for
    the dnf tests): the tool is there, its package database is not; it is no source, and
    does not fail the section."""
    assert updates.apt_updates(str(tmp_path)) is None
    assert updates.dnf_updates(str(tmp_path)) is None
    assert updates.collect(str(tmp_path)) is None
    assert list(tmp_path.iterdir()) == []  # nothing was created there by asking


def test_dnf_history_last_finished_upgrade(tmp_path: Path) -> None:
    """dnf 4's history database: the newest transaction that finished (state 1) and upgraded
    a package (an item with action 6); failed ones and installs without an upgrade do not
    count."""
    import sqlite3

    path = tmp_path / updates.DNF_HISTORY
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE trans (id INTEGER PRIMARY KEY, dt_begin INTEGER, dt_end INTEGER,"
        " state INTEGER NOT NULL);"
        "CREATE TABLE trans_item (id INTEGER PRIMARY KEY, trans_id INTEGER, item_id INTEGER,"
        " action INTEGER NOT NULL, state INTEGER NOT NULL);"
        "INSERT INTO trans VALUES (1, 1700000000, 1700000100, 1), (2, 1700000200, 1700000300, 2),"
        " (3, 1700000400, 1700000500, 1);"
        # 1: an upgrade (6, with 7 for the old build) that finished; 2: one that failed;
        # 3: a plain install (1).
        "INSERT INTO trans_item VALUES (1, 1, 1, 6, 1), (2, 1, 2, 7, 1), (3, 2, 3, 6, 2),"
        " (4, 3, 4, 1, 1);"
    )
    db.commit()
    db.close()
    expected = datetime.fromtimestamp(1700000100, UTC)
    assert updates.dnf_last_upgrade(str(path)) == expected
    assert updates.last_patched(str(tmp_path)) == expected
    assert updates.dnf_last_upgrade(str(tmp_path / "none.sqlite")) is None
    (tmp_path / "other.sqlite").write_bytes(b"not a database at all")
    assert updates.dnf_last_upgrade(str(tmp_path / "other.sqlite")) is None
