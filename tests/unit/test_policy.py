from forewarn.domain.policy import RANKS, PolicyDef, effective, render_target


def pol(pid, rank, checks=(), exclude=()):
    return PolicyDef(pid, f"p{pid}", RANKS[rank], tuple(checks), tuple(exclude))


PING = {"name": "ping", "type": "ping", "target": "{host}", "params": {"count": 3}}
DISK = {"name": "disk", "type": "agent", "params": {"metric": "disk.used_percent", "crit": "90"}}


def test_specific_levels_override_exclude_and_restore():
    got = effective(
        [
            pol(6, "asset", [{"name": "disk", "params": {"crit": "97"}}]),
            pol(1, "provider", [PING, DISK]),
            pol(3, "org", exclude=["ping", "disk"]),
            pol(4, "site", [{"name": "ping"}]),
        ]
    )
    by = {e.name: e for e in got}
    assert not by["ping"].excluded
    assert [s.action for s in by["ping"].sources] == ["defines", "excludes", "restores"]
    assert by["ping"].definition["params"] == {"count": 3}
    disk = by["disk"]
    assert not disk.excluded  # the asset's own policy named it again: restored with its change
    assert disk.definition["params"] == {"metric": "disk.used_percent", "crit": "97"}
    assert disk.origin.policy_id == 6


def test_exclusion_sticks_when_nothing_more_specific_restores():
    [e] = effective([pol(1, "provider", [PING]), pol(2, "org_tag", exclude=["ping"])])
    assert e.excluded and e.origin.action == "excludes"


def test_equal_rank_in_id_order_and_targets():
    [e] = effective([pol(9, "org", [{"name": "ping", "target": "b"}]), pol(2, "org", [PING])])
    assert e.definition["target"] == "b"
    assert render_target("{host}:22", host="", name="fs01") == "fs01:22"
    assert render_target("https://{host}/", host="fs01.acme.test", name="fs01") == (
        "https://fs01.acme.test/"
    )
