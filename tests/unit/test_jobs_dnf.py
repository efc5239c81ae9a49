"""install_updates for dnf: RPM's grammar for what a job may name, the argv the agent runs,
and the server's packages per manager."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.agent.jobs import JobRunner, Refusal, install_argv
from forewarn.domain.jobs import (
    MAX_PACKAGES,
    RPM_ARCH,
    RPM_NAME,
    RPM_VERSION,
    install_manager,
    install_targets,
)
from forewarn.services.patch_approval import packages_by_manager
from forewarn.store.models import PendingUpdateRow
from tests.unit.test_agent_jobs import NOW, PUB, envelope, fake_runner, order

# What must never reach dnf's argv inside a package spec: an option's start, a shell word's
# separators and quoting, and dnf's own glob characters.
FORBIDDEN = set(" \t\n\r\x00;|&$`'\"\\<>(){}*?[]!/=,")
NAME = st.from_regex(RPM_NAME, fullmatch=True)
PART = st.text(string.ascii_letters + string.digits + "._+~^", min_size=1, max_size=12).filter(
    lambda p: p[0].isalnum()
)
VERSION = st.builds(
    lambda epoch, v, r: f"{epoch}{v}-{r}",
    st.sampled_from(["", "0:", "1:", "12:"]),
    PART,
    PART,
)
ARCH = st.sampled_from(["x86_64", "noarch", "aarch64", "i686", "ppc64le", "s390x"])


def _dnf(*packages: dict[str, Any]) -> dict[str, Any]:
    return {"manager": "dnf", "packages": list(packages)}


def _split(target: str, has_version: bool, has_arch: bool) -> tuple[str, str | None, str | None]:
    """A NEVRA read back the way dnf reads it when it knows which parts are there."""
    arch = None
    if has_arch:
        target, _, arch = target.rpartition(".")
    if not has_version:
        return target, None, arch
    name, version, release = target.rsplit("-", 2)
    return name, f"{version}-{release}", arch


@settings(max_examples=300)
@given(NAME, st.none() | VERSION, st.none() | ARCH)
def test_every_accepted_dnf_spec_round_trips_and_is_never_an_option(
    name: str, version: str | None, arch: str | None
) -> None:
    item: dict[str, str] = {"name": name}
    if version is not None:
        item["version"] = version
    if arch is not None:
        item["arch"] = arch
    (target,) = install_targets(_dnf(item))
    assert not target.startswith("-")
    assert not set(target) & FORBIDDEN
    assert _split(target, version is not None, arch is not None) == (name, version, arch)


@settings(max_examples=500)
@given(st.text(max_size=40), st.text(max_size=40), st.text(max_size=12))
def test_whatever_text_is_accepted_holds_nothing_dangerous(
    name: str, version: str, arch: str
) -> None:
    for item in ({"name": name}, {"name": name, "version": version, "arch": arch}):
        try:
            (target,) = install_targets(_dnf(item))
        except ValueError:
            continue
        assert not target.startswith("-") and not set(target) & FORBIDDEN
        assert RPM_NAME.fullmatch(name)
        if "version" in item:
            assert RPM_VERSION.fullmatch(version) and RPM_ARCH.fullmatch(arch)


@pytest.mark.parametrize(
    "item",
    [
        {"name": "-y"},
        {"name": "--setopt=reposdir=/tmp"},
        {"name": "openssl libs"},
        {"name": "openssl;reboot"},
        {"name": "openssl*"},
        {"name": "kernel", "version": "5.14.0"},  # no release
        {"name": "kernel", "version": "-5.14.0-1"},
        {"name": "kernel", "version": "5.14.0-1-2"},  # a dash inside the release
        {"name": "kernel", "version": "1:2:3-4"},
        {"name": "kernel", "version": "5.14.0-1 --nogpgcheck"},
        {"name": "kernel", "version": "5.14.0-1", "arch": "x86_64 -y"},
        {"name": "kernel", "version": "5.14.0-1", "arch": "no.arch"},
        {"name": "kernel", "version": 5},
        {"name": "kernel", "repo": "evil"},
        {"name": "libssl3:amd64", "version": "3.0.15-1"},  # apt's name:arch is not dnf's
    ],
)
def test_dnf_refuses_what_is_outside_rpms_grammar(item: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        install_targets(_dnf(item))


def test_the_manager_is_apt_when_absent_and_must_be_known() -> None:
    assert install_manager({"packages": []}) == "apt"
    assert install_targets({"packages": [{"name": "vim", "version": "2:9.0-1"}]}) == ["vim=2:9.0-1"]
    for bad in ("yum", "rpm", "", None, ["dnf"]):
        with pytest.raises(ValueError, match="package manager"):
            install_targets({"manager": bad, "packages": [{"name": "vim"}]})
    # apt's grammar still holds for apt: an RPM-style capitalized name is refused there.
    with pytest.raises(ValueError):
        install_targets({"manager": "apt", "packages": [{"name": "NetworkManager"}]})
    assert install_targets(_dnf({"name": "NetworkManager", "version": "1:1.46.0-4.el9"})) == [
        "NetworkManager-1:1.46.0-4.el9"
    ]
    with pytest.raises(ValueError, match="twice"):
        install_targets(_dnf({"name": "glibc", "arch": "i686"}, {"name": "glibc", "arch": "i686"}))
    assert len(install_targets(_dnf({"name": "glibc", "arch": "i686"}, {"name": "glibc"}))) == 2
    with pytest.raises(ValueError, match="at most"):
        install_targets(_dnf(*({"name": f"p{i}"} for i in range(MAX_PACKAGES + 1))))


def test_the_dnf_argv_upgrades_exact_builds_without_a_shell() -> None:
    payload = _dnf(
        {"name": "openssl-libs", "version": "1:3.0.7-27.el9", "arch": "x86_64"},
        {"name": "tzdata", "version": "2024a-1.el9", "arch": "noarch"},
    )
    argv = install_argv(payload)
    assert argv[0] in ("dnf", "yum") and argv[1:] == [
        "-y",
        "--setopt=strict=True",
        "upgrade",
        "--",
        "openssl-libs-1:3.0.7-27.el9.x86_64",
        "tzdata-2024a-1.el9.noarch",
    ]
    # The test root: dnf's own option only; apt's root is apt's.
    rooted = install_argv(payload, root="/srv/apt", dnf_root="/srv/dnf/")
    assert rooted[1:3] == ["-y", "--installroot=/srv/dnf"]
    assert not any("/srv/apt" in a for a in rooted)
    with pytest.raises(Refusal, match="bad install_updates payload"):
        install_argv(_dnf({"name": "--help"}))


def test_the_agent_runs_dnf_for_a_dnf_job_on_its_own_root_only() -> None:
    calls: list[list[str]] = []
    jobs = JobRunner(
        5, PUB, run=fake_runner(calls), clock=lambda: NOW + 1, apt_root="/a", dnf_root="/d"
    )
    payload = {**_dnf({"name": "fwdemo", "version": "1.0-2", "arch": "noarch"}), "root": "/x"}
    got = jobs.handle(
        order(envelope(id=30, kind="install_updates", payload=payload)), lambda s: None
    )
    assert got is not None and got["state"] == "succeeded"
    assert calls[0][1:] == [
        "-y",
        "--installroot=/d",
        "--setopt=strict=True",
        "upgrade",
        "--",
        "fwdemo-1.0-2.noarch",
    ]
    assert jobs.updates_changed is True  # the updates section is collected again
    # A job naming an unknown manager is refused and nothing runs.
    bad = {"manager": "pacman", "packages": [{"name": "fwdemo"}]}
    got = jobs.handle(order(envelope(id=31, kind="install_updates", payload=bad)), lambda s: None)
    assert got is not None and got["state"] == "refused" and len(calls) == 1
    assert "unknown package manager" in got["reason"]


def _row(name: str, candidate: str, arch: str, source: str) -> PendingUpdateRow:
    return PendingUpdateRow(name=name, candidate=candidate, arch=arch, source=source)


def test_pending_rows_become_packages_per_manager() -> None:
    rows = [
        _row("libssl3", "3.0.15-1~deb12u1", "amd64", "apt"),
        _row("openssl-libs", "1:3.0.7-27.el9", "x86_64", "dnf"),
        _row("tzdata", "2024a-1.el9", "noarch", "yum"),
        _row("bad name", "1.0-1", "noarch", "dnf"),  # outside the grammar: left out
        _row("odd", "1.0", "noarch", "dnf"),  # no release: left out
        _row("KB5034441", "1", "", "windows"),  # no manager installs it here
    ]
    assert packages_by_manager(rows) == {
        "apt": [{"name": "libssl3", "version": "3.0.15-1~deb12u1"}],
        "dnf": [
            {"name": "openssl-libs", "version": "1:3.0.7-27.el9", "arch": "x86_64"},
            {"name": "tzdata", "version": "2024a-1.el9", "arch": "noarch"},
        ],
    }
    assert packages_by_manager([_row("x", "1-1", "", "dnf")]) == {
        "dnf": [{"name": "x", "version": "1-1"}]
    }
    assert packages_by_manager(rows[-1:]) == {}


def test_yum_runs_only_where_dnf_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from forewarn.agent import jobs as agent_jobs

    def which(found: set[str]) -> Any:
        return lambda name, path=None: f"/usr/bin/{name}" if name in found else None

    payload = _dnf({"name": "fwdemo"})
    for found, tool in (({"dnf", "yum"}, "dnf"), ({"yum"}, "yum"), (set(), "dnf")):
        monkeypatch.setattr(agent_jobs.shutil, "which", which(found))
        assert install_argv(payload)[0] == tool
