"""The posture policy format: the shipped pack parses, and each kind of bad input is refused
with the line it is on and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from forewarn.assess import catalog
from forewarn.security.posture_policy import PolicyError, parse, parse_rule

IG1 = frozenset(catalog.load().ids())

PACK = Path(__file__).parents[2] / "src/forewarn/data/posture/linux.yml"

GOOD = """\
policy:
  id: acme
  name: Acme baseline
  applies-to: {os: [linux], kinds: [server]}
variables:
  $cfg: /etc/acme.conf
checks:
  - id: acme.one
    title: One
    severity: high
    cis: ["4.4"]
    condition: all
    rules:
      - 'f:$cfg -> r:^enabled\\s*=\\s*yes'
      - 'not p:telnetd'
"""


def test_the_shipped_pack_has_at_least_30_checks_each_with_ig1_safeguards() -> None:
    policy = parse(PACK.read_text())
    assert policy.id == "forewarn_linux"
    assert len(policy.checks) >= 30
    for check in policy.checks:
        assert set(check.cis) & IG1, check.id
        assert check.title and check.remediation and check.rationale, check.id
    # Laptop-only and workstation-only checks are not sent to a server's agent.
    server = {c["id"] for c in policy.to_agent("server")["checks"]}
    laptop = {c["id"] for c in policy.to_agent("laptop")["checks"]}
    assert "linux.disk.encryption" in laptop - server
    assert "linux.net.ip_forwarding" in laptop - server


def test_a_good_policy_is_taken_apart_for_the_agent() -> None:
    policy = parse(GOOD)
    assert policy.kinds == ("server",) and policy.os == ("linux",)
    doc = policy.to_agent("server")
    rules = doc["checks"][0]["rules"]
    assert rules[0]["target"] == "/etc/acme.conf"  # the variable was replaced
    assert rules[0]["tests"] == [{"k": "r", "re": r"^enabled\s*=\s*yes"}]
    assert rules[1] == {"type": "p", "target": "telnetd", "text": "not p:telnetd", "neg": True}


def test_rule_grammar() -> None:
    n = parse_rule(r"f:/etc/login.defs -> n:^PASS_MAX_DAYS\s+(\d+) compare <= 365")
    assert (n.tests[0].kind, n.tests[0].op, n.tests[0].value) == ("n", "<=", 365.0)
    d = parse_rule(r"d:/etc/ssh/sshd_config.d -> r:\.conf$ -> !r:^#")
    assert d.name_pattern == r"\.conf$" and d.tests[0].negate
    fact = parse_rule("fact:accounts -> admin=true && uid!=0 -> count <= 3")
    assert fact.where == (("admin", "=", "true"), ("uid", "!=", "0")) and fact.count == ("<=", 3)
    c = parse_rule("c:sysctl kernel.randomize_va_space -> r:= 2$")
    assert c.type == "c" and c.target == "sysctl kernel.randomize_va_space"


BAD = [
    # (text, line, words in the reason)
    ("policy:\n  id: x\n  name: [unclosed\n", 4, "YAML syntax error"),
    (GOOD.replace("'not p:telnetd'", "'x:/etc/passwd'"), 15, "unknown rule type"),
    (GOOD.replace("r:^enabled", "r:^(enabled"), 14, "does not compile"),
    (GOOD.replace("condition: all", "condition: most"), 12, "condition must be"),
    (GOOD.replace("severity: high", "severity: dire"), 10, "severity must be"),
    (GOOD.replace('cis: ["4.4"]', 'cis: ["four"]'), 11, "safeguard"),
    (GOOD.replace("    title: One\n", "    title: One\n    colour: red\n"), 10, "unknown key"),
    (GOOD.replace("'not p:telnetd'", "'c:cat /etc/passwd | grep root'"), 15, "without a shell"),
    (GOOD.replace("'not p:telnetd'", r"'f:/x -> n:^a\s+\d+ compare <= 3'"), 15, "group"),
    (GOOD.replace("'not p:telnetd'", "'fact:gizmos -> a=b'"), 15, "not an inventory section"),
    (
        GOOD + "  - id: acme.one\n    title: Again\n    condition: all\n    rules: ['p:x']\n",
        16,
        "repeats line 8",
    ),
    (GOOD.replace("kinds: [server]", "kinds: [toaster]"), 4, "not an asset kind"),
    ("policy:\n  id: x\n  name: y\nchecks: []\n", 4, "no checks"),
    ("", 1, "empty"),
]


@pytest.mark.parametrize(("text", "line", "words"), BAD)
def test_bad_input_is_refused_with_its_line(text: str, line: int, words: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse(text)
    assert err.value.line == line, str(err.value)
    assert words in err.value.reason
    assert str(err.value).startswith(f"line {line}: ")


def test_oversized_or_binary_input_is_refused() -> None:
    with pytest.raises(PolicyError, match="larger than"):
        parse(b"#" * (1024 * 1024 + 1))
    with pytest.raises(PolicyError, match="UTF-8"):
        parse(b"\xff\xfe policy")
