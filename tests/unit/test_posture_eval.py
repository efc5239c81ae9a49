"""The agent's posture evaluator over a fake machine: rule kinds, conditions, not applicable,
`missing: fail`, requirements, the command allow-list and the time budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from forewarn.agent.posture import Assessor, allowed, combine, evaluate
from forewarn.security.posture_policy import parse

SSHD = "# comment\nPermitRootLogin yes\nMaxAuthTries 6\n"


@dataclass
class FakeIo:
    files: dict[str, str] = field(default_factory=dict)
    dirs: dict[str, list[str]] = field(default_factory=dict)
    procs: set[str] = field(default_factory=set)
    commands: dict[str, tuple[int, str]] = field(default_factory=dict)
    inventory: dict[str, Any] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)

    def read_lines(self, path: str) -> list[str] | None:
        return self.files[path].splitlines() if path in self.files else None

    def exists(self, path: str) -> bool:
        return path in self.files or path in self.dirs

    def is_dir(self, path: str) -> bool:
        return path in self.dirs

    def list_dir(self, path: str) -> list[str] | None:
        return self.dirs.get(path)

    def process_names(self) -> set[str]:
        return self.procs

    def run(self, argv: list[str]) -> tuple[int, str] | str:
        key = " ".join(argv)
        self.ran.append(key)
        return self.commands.get(key, "not installed")

    def facts(self, section: str) -> Any:
        return self.inventory.get(section)


def policy(*checks: str) -> dict[str, Any]:
    text = "policy: {id: t, name: T}\nchecks:\n" + "".join(checks)
    return parse(text).to_agent("server")


def check(cid: str, condition: str, *rules: str, extra: str = "") -> str:
    listed = "".join(f"      - '{r}'\n" for r in rules)
    return (
        f"  - id: {cid}\n    title: {cid}\n    condition: {condition}\n{extra}    rules:\n{listed}"
    )


def run(io: FakeIo, *checks: str) -> dict[str, tuple[str, list[str]]]:
    return {r["check"]: (r["status"], r["evidence"]) for r in evaluate(policy(*checks), io)}


def test_file_rules_content_numbers_and_negation() -> None:
    io = FakeIo(files={"/etc/ssh/sshd_config": SSHD})
    out = run(
        io,
        check("root", "all", r"f:/etc/ssh/sshd_config -> r:^PermitRootLogin\s+no"),
        check("tries", "all", r"f:/etc/ssh/sshd_config -> n:^MaxAuthTries\s+(\d+) compare <= 4"),
        check("uncommented", "any", r"f:/etc/ssh/sshd_config -> !r:^# && r:Permit"),
        check("exists", "all", "f:/etc/ssh/sshd_config", "not f:/etc/nologin"),
        check("absent_file", "all", r"f:/etc/none -> r:x"),
    )
    assert out["root"][0] == "fail"
    assert "seen: PermitRootLogin yes" in out["root"][1][0]  # what was there instead
    assert out["tries"][0] == "fail" and "seen: MaxAuthTries 6" in out["tries"][1][0]
    assert out["uncommented"] == ("pass", ["line 2 of /etc/ssh/sshd_config: PermitRootLogin yes"])
    assert out["exists"][0] == "pass"
    assert out["absent_file"][0] == "na"  # the file it reads is not there: not applicable


def test_conditions_with_not_applicable() -> None:
    assert [combine("all", v) for v in ([True], [True, None], [False, None])] == [
        "pass",
        "na",
        "fail",
    ]
    assert [combine("any", v) for v in ([False, True], [False, None], [False])] == [
        "pass",
        "na",
        "fail",
    ]
    assert [combine("none", v) for v in ([False], [None, False], [True, None])] == [
        "pass",
        "na",
        "fail",
    ]


def test_a_missing_firewall_tool_fails_when_the_check_says_so() -> None:
    rules = ("c:nft list ruleset -> r:hook input .*policy drop", "c:ufw status -> r:active")
    io = FakeIo()
    assert run(io, check("fw", "any", *rules))["fw"][0] == "na"
    assert run(io, check("fw", "any", *rules, extra="    missing: fail\n"))["fw"][0] == "fail"
    io.commands["nft list ruleset"] = (
        0,
        "table inet f {\n chain input {\n  type filter hook input priority 0; policy drop;\n",
    )
    assert run(io, check("fw", "any", *rules))["fw"][0] == "pass"


def test_directories_processes_and_facts() -> None:
    io = FakeIo(
        files={"/etc/ssh/sshd_config.d/10-hard.conf": "PasswordAuthentication no\n"},
        dirs={"/etc/ssh/sshd_config.d": ["10-hard.conf", "README"]},
        procs={"sshd", "auditd"},
        inventory={
            "accounts": [
                {"name": "root", "uid": 0, "admin": True},
                {"name": "toor", "uid": 0, "admin": True},
                {"name": "ann", "uid": 1000, "admin": True},
            ],
            "listeners": [{"address": "0.0.0.0", "port": 5432, "process": "postgres"}],
        },
    )
    out = run(
        io,
        check(
            "pw", "any", r"d:/etc/ssh/sshd_config.d -> r:\.conf$ -> r:^PasswordAuthentication no"
        ),
        check("audit", "any", "p:auditd"),
        check("telnet", "none", "p:in.telnetd"),
        check("uid0", "none", "fact:accounts -> uid=0 && name!=root"),
        check("admins", "all", "fact:accounts -> admin=true && uid!=0 -> count <= 0"),
        check("listen", "all", r"fact:listeners -> address~^0\.0\.0\.0$ -> count == 0"),
        check("nosection", "all", "fact:services -> name=x"),
    )
    assert out["pw"][0] == "pass" and "10-hard.conf" in out["pw"][1][0]
    assert out["audit"][0] == "pass" and out["telnet"][0] == "pass"
    assert out["uid0"] == ("fail", ["1 of accounts match: toor"])
    assert out["admins"] == ("fail", ["1 of accounts match: ann"])  # the members, as evidence
    assert out["listen"] == ("fail", ["1 of listeners match: 0.0.0.0:5432 postgres"])
    assert out["nosection"][0] == "na"


def test_requirements_make_checks_not_applicable() -> None:
    io = FakeIo()
    out = run(
        io,
        check(
            "lock",
            "all",
            "c:gsettings get a b -> r:true",
            extra="    requires: ['d:/usr/share/xsessions']\n",
        ),
    )
    assert out["lock"][0] == "na" and "not applicable" in out["lock"][1][0]
    assert io.ran == []  # nothing run for a check that does not apply


def test_secrets_are_not_quoted_from_sensitive_files() -> None:
    io = FakeIo(files={"/etc/shadow": "root:$y$secret:19000::::::\nbob::19000::::::\n"})
    status, evidence = run(io, check("empty", "none", "f:/etc/shadow -> r:^[^:]+::"))["empty"]
    assert status == "fail" and evidence == ["line 2 of /etc/shadow"]


@pytest.mark.parametrize(
    ("argv", "ok"),
    [
        (["sysctl", "kernel.randomize_va_space"], True),
        (["sysctl", "-w", "kernel.randomize_va_space=0"], False),
        (["find", "/etc", "-perm", "-0002"], True),
        (["find", "/", "-delete"], False),
        (["find", "/", "-exec", "rm", "{}", ";"], False),
        (["systemctl", "is-active", "auditd"], True),
        (["systemctl", "stop", "auditd"], False),
        (["cryptsetup", "luksFormat", "/dev/sda"], False),
        (["rm", "-rf", "/"], False),
        (["/usr/sbin/nft", "list", "ruleset"], True),
        (["nft", "flush", "ruleset"], False),
    ],
)
def test_only_read_only_commands_run(argv: list[str], ok: bool) -> None:
    assert (allowed(argv) == "") is ok, allowed(argv)


def test_hourly_and_on_change_within_a_budget() -> None:
    clock = iter(range(0, 10_000, 30)).__next__  # every call: 30 s later
    io = FakeIo(procs={"auditd"})
    p = [policy(*(check(f"c{i}", "any", "p:auditd") for i in range(5)))]
    a = Assessor(io, budget=100, monotonic=clock, family="linux")
    (report,) = a.take(p, 1_790_000_000.0)
    statuses = [r["status"] for r in report["results"]]
    assert "pass" in statuses and statuses[-1] == "error"  # the budget ran out part-way
    a.remember(p, 1_790_000_000.0)
    assert a.take(p, 1_790_000_000.0 + 1800) == []  # not due within the hour
    assert a.due(p, 1_790_000_000.0 + 3600)
    changed = [policy(check("other", "all", "p:x"))]
    assert a.due(changed, 1_790_000_000.0 + 60)  # a new policy: at once
    assert Assessor(io, family="windows").take(p, 1.0) == []  # a Linux policy, not for Windows
