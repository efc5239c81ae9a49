"""systemctl list-units and list-unit-files, joined into services with their boot state."""

from __future__ import annotations

from forewarn.agent.collectors.services import join_units, parse_list_unit_files, parse_list_units

LIST_UNITS = """\
  accounts-daemon.service                loaded    active   running Accounts Service
  apparmor.service                       loaded    active   exited  Load AppArmor profiles
* auditd.service                         not-found inactive dead    auditd.service
\u25cf cups.service                           loaded    failed   failed  CUPS Scheduler
  getty@tty1.service                     loaded    active   running Getty on tty1
  ssh.service                            loaded    active   running OpenBSD Secure Shell server
  systemd-fsck@dev-disk-by\\x2duuid-1.service loaded active exited File System Check on /dev/disk
  upower.service                         loaded    activating start Daemon for power management
  weird.socket                           loaded    active   running Not a service
  short.service loaded
garbage
"""

# systemd >= 245 adds a PRESET column; older versions print two columns.
LIST_UNIT_FILES = """\
accounts-daemon.service                    enabled         enabled
apparmor.service                           enabled         enabled
cups.service                               enabled         enabled
getty@.service                             enabled         enabled
ssh.service                                enabled         enabled
sshd.service                               alias           -
telnet.service                             disabled        enabled
rescue.service                             static          -
nfs-server.service                         masked
upower.service                             disabled
"""


def test_list_units_parses_states_and_markers() -> None:
    units = parse_list_units(LIST_UNITS)
    assert set(units) == {
        "accounts-daemon.service",
        "apparmor.service",
        "auditd.service",
        "cups.service",
        "getty@tty1.service",
        "ssh.service",
        "systemd-fsck@dev-disk-by\\x2duuid-1.service",
        "upower.service",
    }
    assert units["cups.service"]["state"] == "failed"
    assert units["cups.service"]["sub"] == "failed"
    assert units["auditd.service"]["state"] == "inactive"
    assert units["ssh.service"]["description"] == "OpenBSD Secure Shell server"
    assert units["upower.service"]["state"] == "activating"


def test_list_unit_files_both_column_layouts() -> None:
    files = parse_list_unit_files(LIST_UNIT_FILES)
    assert files["ssh.service"] == "enabled"
    assert files["nfs-server.service"] == "masked"
    assert files["upower.service"] == "disabled"
    assert files["sshd.service"] == "alias"


def test_join_gives_boot_state_and_adds_installed_but_unloaded_units() -> None:
    services = join_units(parse_list_units(LIST_UNITS), parse_list_unit_files(LIST_UNIT_FILES))
    by_name = {s["name"]: s for s in services}
    assert [s["name"] for s in services] == sorted(by_name)
    assert by_name["ssh.service"]["enabled"] == "enabled"
    # An instance is enabled through its template.
    assert by_name["getty@tty1.service"]["enabled"] == "enabled"
    assert by_name["auditd.service"]["enabled"] == ""
    assert by_name["telnet.service"] == {
        "name": "telnet.service",
        "state": "inactive",
        "sub": "dead",
        "enabled": "disabled",
        "description": "",
    }
    assert by_name["nfs-server.service"]["enabled"] == "masked"
    # Templates and aliases are not services of their own.
    assert "getty@.service" not in by_name
    assert "sshd.service" not in by_name
    assert set(services[0]) == {"name", "state", "sub", "enabled", "description"}


def test_empty_listings() -> None:
    assert parse_list_units("") == {}
    assert join_units({}, {}) == []
