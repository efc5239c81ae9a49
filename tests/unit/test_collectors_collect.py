"""Section hashes ignore order and change detection sends only what changed."""

from __future__ import annotations

from typing import Any

from forewarn.agent.collect import canonical, changed_sections, section_hash, section_hashes


def _inventory() -> dict[str, Any]:
    return {
        "full": True,
        "system": {"hostname": "pc1", "os_id": "debian"},
        "packages": [
            {"name": "bash", "version": "5.2", "arch": "amd64", "source": "dpkg"},
            {"name": "curl", "version": "7.88", "arch": "amd64", "source": "dpkg"},
        ],
        "interfaces": [{"name": "eth0", "addresses": ["10.0.0.2", "fe80::1"], "up": True}],
        "logins": [],
    }


def test_order_noise_does_not_change_a_hash() -> None:
    a = _inventory()
    b = _inventory()
    b["packages"].reverse()
    b["interfaces"][0]["addresses"].reverse()
    b["system"] = dict(reversed(list(b["system"].items())))
    assert section_hashes(a) == section_hashes(b)
    assert canonical([[2, 1], [1]]) == canonical([[1], [1, 2]])


def test_content_changes_a_hash() -> None:
    a = _inventory()
    b = _inventory()
    b["packages"][0]["version"] = "5.3"
    assert section_hash(a["packages"]) != section_hash(b["packages"])
    assert section_hash([]) != section_hash({})


def test_only_changed_sections_are_sent() -> None:
    before = _inventory()
    hashes = section_hashes(before)
    assert set(hashes) == {"system", "packages", "interfaces", "logins"}
    assert changed_sections(before, hashes) == {"full": False}
    after = _inventory()
    after["packages"].append({"name": "vim", "version": "9", "arch": "amd64", "source": "dpkg"})
    assert changed_sections(after, hashes) == {"full": False, "packages": after["packages"]}
    # Nothing acknowledged yet: everything present is new.
    first = changed_sections(after, {})
    assert set(first) == {"full", "system", "packages", "interfaces", "logins"}


def test_a_section_that_could_not_be_read_is_not_sent_and_keeps_its_hash() -> None:
    before = _inventory()
    hashes = section_hashes(before)
    partial = {k: v for k, v in before.items() if k != "packages"}
    assert "packages" not in section_hashes(partial)
    assert changed_sections(partial, hashes) == {"full": False}
