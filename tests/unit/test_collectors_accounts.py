"""Accounts from /etc/passwd, /etc/group, /etc/shadow and /etc/login.defs."""

from __future__ import annotations

from forewarn.agent.collectors.accounts import (
    build_accounts,
    parse_admin_members,
    parse_passwd,
    parse_shadow_locked,
    parse_uid_min,
)

PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
postgres:x:105:111:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
bob:x:1001:1001::/home/bob:/bin/zsh
carol:x:1002:10::/home/carol:/bin/bash
svc-backup:x:1500:1500::/srv/backup:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
+@netgroup::::::
broken:x:notanumber:0::/:/bin/sh
short:x:1003
alice:x:2000:2000:duplicate:/tmp:/bin/sh
"""

GROUP = """\
root:x:0:
wheel:x:10:
sudo:x:27:alice,bob ,
adm:x:4:syslog,alice
admin:x:115:
malformed:line
"""

SHADOW = """\
root:$y$j9T$abc$def:19700:0:99999:7:::
daemon:*:19700:0:99999:7:::
alice:$6$salt$hash:19700:0:99999:7:::
bob:!$6$salt$hash:19700:0:99999:7:::
svc-backup:!!:19700::::::
carol::19700:0:99999:7:::
"""


def _by_name() -> dict[str, dict[str, object]]:
    members, gids = parse_admin_members(GROUP)
    accounts = build_accounts(
        parse_passwd(PASSWD), members, gids, parse_shadow_locked(SHADOW), uid_min=1000
    )
    return {str(a["name"]): a for a in accounts}


def test_passwd_skips_malformed_lines_and_includes() -> None:
    names = [e.name for e in parse_passwd(PASSWD)]
    assert "broken" not in names and "short" not in names and "+@netgroup" not in names
    assert names.count("alice") == 2  # parsed; the duplicate is dropped when building


def test_root_is_an_administrator_and_not_a_system_account() -> None:
    root = _by_name()["root"]
    assert root == {
        "name": "root",
        "uid": 0,
        "shell": "/bin/bash",
        "home": "/root",
        "admin": True,
        "locked": False,
        "system": False,
    }


def test_administrators_by_group_line_and_by_primary_group() -> None:
    accounts = _by_name()
    assert accounts["alice"]["admin"] and accounts["bob"]["admin"]
    assert accounts["carol"]["admin"]  # primary group is wheel (gid 10)
    assert not accounts["www-data"]["admin"]
    # adm reads logs; it does not administer the machine.
    assert not accounts["daemon"]["admin"]


def test_system_accounts_by_uid_or_shell() -> None:
    accounts = _by_name()
    assert accounts["daemon"]["system"] and accounts["postgres"]["system"]
    assert accounts["svc-backup"]["system"]  # uid of a person, shell of a service
    assert accounts["nobody"]["system"]
    assert not accounts["alice"]["system"] and not accounts["bob"]["system"]


def test_locked_from_shadow_and_unknown_without_it() -> None:
    accounts = _by_name()
    assert accounts["daemon"]["locked"] is True
    assert accounts["bob"]["locked"] is True
    assert accounts["svc-backup"]["locked"] is True
    assert accounts["alice"]["locked"] is False
    assert accounts["carol"]["locked"] is False  # empty password: not locked
    assert accounts["nobody"]["locked"] is None  # no shadow line
    unreadable = build_accounts(parse_passwd(PASSWD), set(), set(), None)
    assert all(a["locked"] is None for a in unreadable)


def test_duplicate_names_keep_the_first_line_and_output_is_sorted() -> None:
    accounts = build_accounts(parse_passwd(PASSWD), set(), set(), None)
    names = [a["name"] for a in accounts]
    assert names == sorted(set(names))
    assert next(a for a in accounts if a["name"] == "alice")["uid"] == 1000


def test_uid_min_from_login_defs() -> None:
    assert parse_uid_min("# UID_MIN 10\nUID_MIN\t\t\t 500\nUID_MAX 60000\n") == 500
    assert parse_uid_min("#UID_MIN 500\n") == 1000
    assert parse_uid_min("") == 1000
