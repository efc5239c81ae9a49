"""Posture policies: the YAML format (docs/posture.md), parsed and checked on the server.

A policy names what it applies to and lists checks; a check is a condition (all, any, none)
over rules in the grammar of Wazuh's SCA policies (`f:`, `d:`, `p:`, `c:`, with `r:`, `!r:`
and `n:` content tests after `->`) plus our own `fact:` rules over the agent's inventory.

Everything is checked here, before a policy is stored: a YAML syntax error, an unknown key or
rule type, a regular expression that does not compile, each is refused as a `PolicyError`
with the line it is on. The agent gets the rules already taken apart (`Policy.to_agent`), so
it never parses the grammar, and it compiles only patterns the server compiled first.

Pure: no I/O, no clock. Imports nothing of ours.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 1024 * 1024
MAX_CHECKS = 500
MAX_RULES = 50
SEVERITIES = ("low", "medium", "high", "critical")
CONDITIONS = ("all", "any", "none")
KINDS = ("workstation", "laptop", "server", "network_device", "other")
OS_FAMILIES = ("linux", "windows", "darwin")
# Sections of the agent's inventory a `fact:` rule may look at (wire.Inventory).
FACT_SECTIONS = (
    "system",
    "disks",
    "interfaces",
    "packages",
    "services",
    "listeners",
    "accounts",
    "logins",
    "time_sync",
)
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,55}$")  # "posture.<id>" fits a finding's rule
SAFEGUARD_RE = re.compile(r"^\d{1,2}\.\d{1,2}$")
_COMPARE = re.compile(
    r"^(?P<re>.+?)\s+compare\s+(?P<op><=|>=|==|!=|<|>)\s*(?P<value>-?\d+(\.\d+)?)$"
)
_COUNT = re.compile(r"^count\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<value>\d+)$")
_FILTER = re.compile(r"^(?P<field>[a-z_][a-z0-9_]*)\s*(?P<op>!=|=|~)\s*(?P<value>.*)$")
_POLICY_KEYS = {"id", "name", "description", "applies-to", "applies_to", "references", "file"}
_CHECK_KEYS = {
    "id",
    "title",
    "rationale",
    "remediation",
    "severity",
    "cis",
    "condition",
    "rules",
    "requires",
    "missing",
    "applies-to",
    "applies_to",
    # Wazuh SCA's own keys: accepted and kept as text, not used.
    "description",
    "impact",
    "references",
    "compliance",
}


class PolicyError(ValueError):
    """A policy refused: what is wrong and on which line (1-based; 0 when unknown)."""

    def __init__(self, line: int, reason: str) -> None:
        self.line, self.reason = line, reason
        super().__init__(f"line {line}: {reason}" if line else reason)


@dataclass(frozen=True)
class Test:
    """One content test after `->`: `r:` (a line matches), `!r:` (none does), `n:` (a line
    matches and its first group, a number, compares true)."""

    kind: str  # "r" or "n"
    negate: bool
    pattern: str
    op: str = ""
    value: float = 0.0

    def to_agent(self) -> dict[str, Any]:
        out: dict[str, Any] = {"k": self.kind, "re": self.pattern}
        if self.negate:
            out["neg"] = True
        if self.kind == "n":
            out["op"], out["value"] = self.op, self.value
        return out


@dataclass(frozen=True)
class Rule:
    text: str
    line: int
    type: str  # f, d, p, c, fact
    target: str
    negate: bool = False
    name_pattern: str = ""  # d: which file names count
    tests: tuple[Test, ...] = ()
    where: tuple[tuple[str, str, str], ...] = ()  # fact: (field, op, value)
    count: tuple[str, int] | None = None  # fact: how many items must match

    def to_agent(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "target": self.target, "text": self.text}
        if self.negate:
            out["neg"] = True
        if self.name_pattern:
            out["names"] = self.name_pattern
        if self.tests:
            out["tests"] = [t.to_agent() for t in self.tests]
        if self.where:
            out["where"] = [list(w) for w in self.where]
        if self.count is not None:
            out["count"] = list(self.count)
        return out


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    condition: str
    rules: tuple[Rule, ...]
    severity: str = "medium"
    rationale: str = ""
    remediation: str = ""
    cis: tuple[str, ...] = ()
    requires: tuple[Rule, ...] = ()
    missing: str = "na"  # what a rule whose file or command is missing counts as: na | fail
    kinds: tuple[str, ...] = ()  # asset kinds this check is for; () = every kind the policy's
    line: int = 0

    def to_agent(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "condition": self.condition,
            "rules": [r.to_agent() for r in self.rules],
        }
        if self.requires:
            out["requires"] = [r.to_agent() for r in self.requires]
        if self.missing != "na":
            out["missing"] = self.missing
        return out


@dataclass(frozen=True)
class Policy:
    id: str
    name: str
    description: str = ""
    os: tuple[str, ...] = ("linux",)
    kinds: tuple[str, ...] = ()  # () = every kind that runs an agent
    requirements: tuple[Rule, ...] = ()
    checks: tuple[Check, ...] = field(default_factory=tuple)

    def applies_to(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds

    def checks_for(self, kind: str) -> list[Check]:
        return [c for c in self.checks if not c.kinds or kind in c.kinds]

    def check(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def to_agent(self, kind: str) -> dict[str, Any]:
        """What an agent on an asset of this kind runs (no titles or advice: it reports
        results, the server knows what they mean)."""
        out: dict[str, Any] = {
            "id": self.id,
            "os": list(self.os),
            "checks": [c.to_agent() for c in self.checks_for(kind)],
        }
        if self.requirements:
            out["requires"] = [r.to_agent() for r in self.requirements]
        return out

    def digest(self) -> str:
        doc = {k: self.to_agent(k) for k in KINDS}
        canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# ---- parsing ------------------------------------------------------------------------------------


def parse(text: str | bytes) -> Policy:
    """The policy in `text`, or PolicyError saying what is wrong and where."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise PolicyError(0, f"the policy is larger than {MAX_BYTES // 1024} KiB")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(0, "the policy is not UTF-8 text") from exc
    if len(text) > MAX_BYTES:
        raise PolicyError(0, f"the policy is larger than {MAX_BYTES // 1024} KiB")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise PolicyError(line, f"YAML syntax error: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(0, f"YAML error: {exc}") from exc
    if root is None:
        raise PolicyError(1, "the policy is empty")
    top = _mapping(root, "the policy", {"policy", "requirements", "variables", "checks"})
    head = _need(root, top, "policy")
    meta = _mapping(head, "policy", _POLICY_KEYS)
    policy_id = _id(_need(head, meta, "id"), "policy id")
    variables = _variables(top.get("variables"))
    os_list, kinds = _applies(meta.get("applies-to") or meta.get("applies_to"), policy=True)
    requirements: tuple[Rule, ...] = ()
    if "requirements" in top:
        req = _mapping(
            top["requirements"], "requirements", {"title", "description", "condition", "rules"}
        )
        cond = _str(_need(top["requirements"], req, "condition"), "condition")
        if cond != "all":
            raise PolicyError(_line(req["condition"]), "requirements support condition all only")
        requirements = _rules(_need(top["requirements"], req, "rules"), variables)
    checks_node = _need(root, top, "checks")
    if not isinstance(checks_node, SequenceNode):
        raise PolicyError(_line(checks_node), "checks must be a list")
    if len(checks_node.value) > MAX_CHECKS:
        raise PolicyError(_line(checks_node), f"more than {MAX_CHECKS} checks")
    checks: list[Check] = []
    seen: dict[str, int] = {}
    for node in checks_node.value:
        check = _check(node, variables)
        if check.id in seen:
            raise PolicyError(check.line, f"check id {check.id!r} repeats line {seen[check.id]}")
        seen[check.id] = check.line
        checks.append(check)
    if not checks:
        raise PolicyError(_line(checks_node), "the policy has no checks")
    return Policy(
        id=policy_id,
        name=_str(_need(head, meta, "name"), "name"),
        description=_str(meta["description"], "description") if "description" in meta else "",
        os=os_list or ("linux",),
        kinds=kinds,
        requirements=requirements,
        checks=tuple(checks),
    )


def parse_rule(text: str, line: int = 0, variables: dict[str, str] | None = None) -> Rule:
    """One rule of the SCA grammar, e.g. `f:/etc/ssh/sshd_config -> r:^PermitRootLogin no`."""
    raw = text.strip()
    for name, value in (variables or {}).items():
        raw = raw.replace(name, value)
    negate = False
    if raw.startswith("not "):
        negate, raw = True, raw[4:].lstrip()
    kind, sep, rest = raw.partition(":")
    if not sep or kind not in ("f", "d", "p", "c", "fact"):
        raise PolicyError(line, f"unknown rule type in {text!r}: use f:, d:, p:, c: or fact:")
    parts = [p.strip() for p in rest.split(" -> ")]
    target = parts[0]
    if not target:
        raise PolicyError(line, f"rule {text!r} names nothing after {kind}:")
    rule = Rule(text=text.strip(), line=line, type=kind, target=target, negate=negate)
    if kind == "p":
        if len(parts) > 1:
            raise PolicyError(line, "a p: rule takes no -> tests")
        return rule
    if kind == "f":
        if target.endswith("/") or not target.startswith("/"):
            raise PolicyError(line, f"f: needs an absolute file path, not {target!r}")
        if len(parts) > 2:
            raise PolicyError(line, "an f: rule takes one -> with its tests")
        return _with_tests(rule, parts[1] if len(parts) > 1 else "")
    if kind == "c":
        if len(parts) > 2:
            raise PolicyError(line, "a c: rule takes one -> with its tests")
        if any(ch in target for ch in "|;&`$<>"):
            raise PolicyError(line, "commands run without a shell: no pipes, ;, &, $ or redirects")
        return _with_tests(rule, parts[1] if len(parts) > 1 else "")
    if kind == "d":
        if not target.startswith("/"):
            raise PolicyError(line, f"d: needs an absolute directory path, not {target!r}")
        if len(parts) > 3:
            raise PolicyError(line, "a d: rule takes at most a file name test and content tests")
        if len(parts) > 1:
            names = parts[1][2:] if parts[1].startswith("r:") else "^" + re.escape(parts[1]) + "$"
            _compile(names, line)
            rule = _replace(rule, name_pattern=names)
        return _with_tests(rule, parts[2] if len(parts) > 2 else "")
    # fact:
    if target not in FACT_SECTIONS:
        raise PolicyError(
            line, f"fact:{target} is not an inventory section ({', '.join(FACT_SECTIONS)})"
        )
    where: list[tuple[str, str, str]] = []
    count: tuple[str, int] | None = None
    for i, part in enumerate(parts[1:]):
        m = _COUNT.match(part)
        if m:
            if i != len(parts) - 2:
                raise PolicyError(line, "count must be the last part of a fact: rule")
            count = (m["op"], int(m["value"]))
            continue
        for cond in part.split("&&"):
            f = _FILTER.match(cond.strip())
            if not f:
                raise PolicyError(
                    line,
                    f"cannot read the fact filter {cond.strip()!r}: "
                    "use field=value, field!=value or field~regex",
                )
            if f["op"] == "~":
                _compile(f["value"], line)
            where.append((f["field"], f["op"], f["value"].strip()))
    return _replace(rule, where=tuple(where), count=count)


def _with_tests(rule: Rule, part: str) -> Rule:
    if not part:
        return rule
    tests = []
    for raw in part.split(" && "):
        t = raw.strip()
        negate = t.startswith("!")
        body = t[1:] if negate else t
        if body.startswith("r:"):
            _compile(body[2:], rule.line)
            tests.append(Test("r", negate, body[2:]))
        elif body.startswith("n:"):
            m = _COMPARE.match(body[2:])
            if not m:
                raise PolicyError(rule.line, f"n: needs 'REGEX compare OP NUMBER', not {body!r}")
            compiled = _compile(m["re"], rule.line)
            if compiled.groups < 1:
                raise PolicyError(
                    rule.line, f"the n: regex {m['re']!r} needs a (group) for the number"
                )
            tests.append(Test("n", negate, m["re"], m["op"], float(m["value"])))
        else:
            raise PolicyError(rule.line, f"unknown test {t!r}: use r:, !r: or n:")
    return _replace(rule, tests=tuple(tests))


def _replace(rule: Rule, **changes: Any) -> Rule:
    from dataclasses import replace

    return replace(rule, **changes)


def _compile(pattern: str, line: int) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise PolicyError(
            line, f"the regular expression {pattern!r} does not compile: {exc}"
        ) from exc


def _check(node: Node, variables: dict[str, str]) -> Check:
    m = _mapping(node, "a check", _CHECK_KEYS)
    check_id = _id(_need(node, m, "id"), "check id")
    condition = _str(_need(node, m, "condition"), "condition").lower()
    if condition not in CONDITIONS:
        raise PolicyError(
            _line(m["condition"]), f"condition must be all, any or none, not {condition!r}"
        )
    severity = _str(m["severity"], "severity").lower() if "severity" in m else "medium"
    if severity not in SEVERITIES:
        raise PolicyError(_line(m["severity"]), f"severity must be one of {', '.join(SEVERITIES)}")
    missing = _str(m["missing"], "missing").lower() if "missing" in m else "na"
    if missing not in ("na", "fail"):
        raise PolicyError(_line(m["missing"]), "missing must be na or fail")
    cis: list[str] = []
    if "cis" in m:
        for item in _seq(m["cis"], "cis"):
            value = _str(item, "a CIS safeguard id")
            if not SAFEGUARD_RE.match(value):
                raise PolicyError(_line(item), f"{value!r} is not a CIS v8 safeguard id like 4.4")
            cis.append(value)
    _, kinds = _applies(m.get("applies-to") or m.get("applies_to"), policy=False)
    requires = _rules(m["requires"], variables) if "requires" in m else ()
    return Check(
        id=check_id,
        title=_str(_need(node, m, "title"), "title"),
        condition=condition,
        rules=_rules(_need(node, m, "rules"), variables),
        severity=severity,
        rationale=_str(m["rationale"], "rationale") if "rationale" in m else "",
        remediation=_str(m["remediation"], "remediation") if "remediation" in m else "",
        cis=tuple(cis),
        requires=requires,
        missing=missing,
        kinds=kinds,
        line=_line(node),
    )


def _rules(node: Node, variables: dict[str, str]) -> tuple[Rule, ...]:
    items = _seq(node, "rules")
    if not items:
        raise PolicyError(_line(node), "rules must list at least one rule")
    if len(items) > MAX_RULES:
        raise PolicyError(_line(node), f"more than {MAX_RULES} rules")
    return tuple(parse_rule(_str(item, "a rule"), _line(item), variables) for item in items)


def _applies(node: Node | None, *, policy: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if node is None:
        return (), ()
    m = _mapping(node, "applies-to", {"os", "kinds", "kind", "role", "roles"})
    os_list: list[str] = []
    if "os" in m:
        if not policy:
            raise PolicyError(_line(m["os"]), "os is set for the whole policy, not per check")
        for item in _seq_or_one(m["os"]):
            value = _str(item, "os").lower()
            if value not in OS_FAMILIES:
                raise PolicyError(_line(item), f"os must be one of {', '.join(OS_FAMILIES)}")
            os_list.append(value)
    kinds: list[str] = []
    for key in ("kinds", "kind", "role", "roles"):
        for item in _seq_or_one(m[key]) if key in m else []:
            value = _str(item, key).lower()
            if value not in KINDS:
                raise PolicyError(
                    _line(item), f"{value!r} is not an asset kind ({', '.join(KINDS)})"
                )
            kinds.append(value)
    return tuple(os_list), tuple(kinds)


def _variables(node: Node | None) -> dict[str, str]:
    if node is None:
        return {}
    out = {}
    for key, value in _mapping(node, "variables", None).items():
        if not key.startswith("$"):
            raise PolicyError(_line(value), f"variable names start with $, not {key!r}")
        out[key] = _str(value, key)
    # Longest first, so that $sshd_file is not replaced as $sshd plus "_file".
    return dict(sorted(out.items(), key=lambda kv: -len(kv[0])))


# ---- YAML nodes, with their lines -------------------------------------------------------------


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _mapping(node: Node, what: str, allowed: set[str] | None) -> dict[str, Node]:
    if not isinstance(node, MappingNode):
        raise PolicyError(_line(node), f"{what} must be a mapping of keys to values")
    out: dict[str, Node] = {}
    for key_node, value in node.value:
        key = _str(key_node, "a key")
        if allowed is not None and key not in allowed:
            raise PolicyError(_line(key_node), f"unknown key {key!r} in {what}")
        if key in out:
            raise PolicyError(_line(key_node), f"key {key!r} repeats in {what}")
        out[key] = value
    return out


def _need(parent: Node, m: dict[str, Node], key: str) -> Node:
    if key not in m:
        raise PolicyError(_line(parent), f"{key} is missing")
    return m[key]


def _seq(node: Node, what: str) -> list[Node]:
    if not isinstance(node, SequenceNode):
        raise PolicyError(_line(node), f"{what} must be a list")
    return list(node.value)


def _seq_or_one(node: Node) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else [node]


def _str(node: Node, what: str) -> str:
    if not isinstance(node, ScalarNode):
        raise PolicyError(_line(node), f"{what} must be text")
    value = str(node.value)
    if "\x00" in value:
        raise PolicyError(_line(node), f"{what} holds a NUL character")
    return value


def _id(node: Node, what: str) -> str:
    value = _str(node, what).lower()
    if not ID_RE.match(value):
        raise PolicyError(_line(node), f"{what} {value!r}: use a-z, 0-9, _ . - (at most 56)")
    return value
