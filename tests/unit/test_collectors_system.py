"""os-release parsing and time zone names."""

from __future__ import annotations

from forewarn.agent.collectors.system import parse_os_release, timezone_from_link

DEBIAN = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""

UBUNTU = """\
NAME="Ubuntu"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
ID=ubuntu
ID_LIKE=debian
VERSION_ID="22.04"
"""


def test_debian_os_release() -> None:
    rel = parse_os_release(DEBIAN)
    assert (rel["ID"], rel["NAME"], rel["VERSION_ID"]) == ("debian", "Debian GNU/Linux", "12")
    assert rel["VERSION_CODENAME"] == "bookworm"


def test_ubuntu_os_release() -> None:
    rel = parse_os_release(UBUNTU)
    assert (rel["ID"], rel["NAME"], rel["VERSION_ID"]) == ("ubuntu", "Ubuntu", "22.04")


def test_quotes_escapes_comments_and_junk() -> None:
    text = """\
# a comment
NAME='Single quoted'
PRETTY_NAME="A \\"quoted\\" \\$name with \\\\ backslash"
VARIANT="unterminated
not a pair
 ID = fedora
9BAD=x
EMPTY=
"""
    rel = parse_os_release(text)
    assert rel["NAME"] == "Single quoted"
    assert rel["PRETTY_NAME"] == 'A "quoted" $name with \\ backslash'
    assert rel["VARIANT"] == '"unterminated'
    assert rel["ID"] == "fedora"
    assert rel["EMPTY"] == ""
    assert "9BAD" not in rel
    assert parse_os_release("") == {}


def test_time_zone_from_localtime_link() -> None:
    assert timezone_from_link("/usr/share/zoneinfo/Europe/Paris") == "Europe/Paris"
    assert timezone_from_link("../usr/share/zoneinfo/Etc/UTC") == "Etc/UTC"
    assert timezone_from_link("/usr/share/zoneinfo/posix/America/New_York") == "America/New_York"
    assert timezone_from_link("/etc/some-other-file") == ""
