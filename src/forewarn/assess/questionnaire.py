"""The questionnaire: short questions for what no machine can show, and their answers.

Questions come from data/assessment/questions.yml, each naming the safeguards it evidences.
Answers are yes | partly | no | unknown, some with a name or a date beside them. An answers
file (YAML) or form is checked whole: every problem is named (its line when there is one, and
the question id) and nothing is kept unless all of it is right.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from forewarn.assess.catalog import Catalog
from forewarn.assess.catalog import load as load_catalog

CHOICES = ("yes", "partly", "no", "unknown")
# What an answer is worth for the safeguards it evidences; unknown is no evidence at all.
VALUES: dict[str, float | None] = {"yes": 1.0, "partly": 0.5, "no": 0.0, "unknown": None}
DETAILS = ("name", "date")
MAX_BYTES = 64 * 1024
MAX_DETAIL = 200


class QuestionnaireError(ValueError):
    """Answers refused: `problems` names each one (line, question id, what is wrong)."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        super().__init__("; ".join(describe(p) for p in problems))


def describe(problem: Mapping[str, Any]) -> str:
    where = f"line {problem['line']}: " if problem.get("line") else ""
    qid = f"{problem['id']}: " if problem.get("id") else ""
    return f"{where}{qid}{problem['msg']}"


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    safeguards: tuple[str, ...]
    detail: str | None = None  # "name" | "date": asked beside the answer


@dataclass(frozen=True)
class Answer:
    question_id: str
    answer: str  # one of CHOICES
    detail: str = ""  # a name, or an ISO date

    @property
    def value(self) -> float | None:
        return VALUES[self.answer]


def parse_questions(text: str, catalog: Catalog) -> tuple[Question, ...]:
    doc = yaml.safe_load(text)
    out: list[Question] = []
    for item in (doc or {}).get("questions") or []:
        qid, safeguards = str(item["id"]), tuple(str(s) for s in item["safeguards"])
        unknown = [s for s in safeguards if catalog.get(s) is None]
        if unknown or not safeguards:
            raise ValueError(f"question {qid}: safeguards {unknown or '[]'} not in the catalog")
        detail = item.get("detail")
        if detail is not None and detail not in DETAILS:
            raise ValueError(f"question {qid}: detail {detail!r} is not name or date")
        out.append(Question(qid, str(item["text"]), safeguards, detail))
    if len({q.id for q in out}) != len(out):
        raise ValueError("question ids repeat")
    return tuple(out)


@lru_cache(maxsize=1)
def load() -> tuple[Question, ...]:
    """The shipped questions, checked against the catalog once."""
    text = (resources.files("forewarn.data") / "assessment" / "questions.yml").read_text("utf-8")
    return parse_questions(text, load_catalog())


def by_id() -> dict[str, Question]:
    return {q.id: q for q in load()}


# ---- checking answers -------------------------------------------------------------------------


def _show(raw: Any) -> str:
    """A refused value, quoted briefly (never the whole of a nested or aliased structure)."""
    if isinstance(raw, str | int | float | bool | date) or raw is None:
        return repr(str(raw)[:40])
    return f"a {type(raw).__name__}"


def _printable(text: str) -> bool:
    return all(ch.isprintable() for ch in text)


def _choice(raw: Any) -> str | None:
    # YAML 1.1 reads a bare yes/no as a boolean; both spellings mean the same answer here.
    if raw is True:
        return "yes"
    if raw is False:
        return "no"
    if isinstance(raw, str) and raw.strip().lower() in CHOICES:
        return raw.strip().lower()
    return None


def _detail(question: Question, raw: Any) -> tuple[str, str | None]:
    """(the detail as kept, a problem or None)."""
    if raw is None or raw == "":
        return "", None
    if question.detail is None:
        return "", "this question takes no name or date"
    if question.detail == "date":
        if isinstance(raw, datetime):
            return raw.date().isoformat(), None
        if isinstance(raw, date):
            return raw.isoformat(), None
        try:
            if not isinstance(raw, str):
                raise ValueError(raw)
            return date.fromisoformat(raw.strip()).isoformat(), None
        except ValueError:
            return "", f"date {_show(raw)} is not YYYY-MM-DD"
    if not isinstance(raw, str | int | float):
        return "", f"the name must be text, not {_show(raw)}"
    text = str(raw).strip()
    if not _printable(text):
        return "", "the name holds control characters"
    if len(text) > MAX_DETAIL:
        return "", f"the name is longer than {MAX_DETAIL} characters"
    return text, None


def _one(question: Question, raw: Any) -> tuple[Answer | None, str | None]:
    detail_raw: Any = None
    if isinstance(raw, Mapping):
        extra = set(raw) - {"answer", *DETAILS}
        if extra:
            shown = sorted(str(k)[:40] for k in extra)[:5]
            return None, f"unknown field(s) {shown}; use answer, name or date"
        detail_raw = raw.get(question.detail) if question.detail else None
        if question.detail is None and any(raw.get(d) not in (None, "") for d in DETAILS):
            return None, "this question takes no name or date"
        raw = raw.get("answer")
    choice = _choice(raw)
    if choice is None:
        return None, f"answer {_show(raw)} is not one of {', '.join(CHOICES)}"
    detail, problem = _detail(question, detail_raw)
    if problem:
        return None, problem
    if question.detail == "name" and choice in ("yes", "partly") and not detail:
        return None, "a yes or partly answer needs the name"
    return Answer(question.id, choice, detail), None


def check(items: Iterable[tuple[str, Any, int | None]]) -> list[Answer]:
    """Check (question id, raw answer, line or None) items; all answers, or QuestionnaireError
    naming every problem."""
    questions = by_id()
    problems: list[dict[str, Any]] = []
    answers: list[Answer] = []
    seen: set[str] = set()
    for key, raw, line in items:
        qid = str(key)
        question = questions.get(qid)
        if question is None:
            shown = qid[:64] if _printable(qid) else repr(qid[:64])
            problems.append({"line": line, "id": shown, "msg": "no such question"})
            continue
        if qid in seen:
            problems.append({"line": line, "id": qid, "msg": "answered twice"})
            continue
        seen.add(qid)
        answer, problem = _one(question, raw)
        if problem is not None:
            problems.append({"line": line, "id": qid, "msg": problem})
        elif answer is not None:
            answers.append(answer)
    if problems:
        raise QuestionnaireError(problems)
    if not answers:
        raise QuestionnaireError([{"line": None, "id": "", "msg": "no answers given"}])
    return answers


def parse_answers(text: str | bytes) -> list[Answer]:
    """An answers file: `answers:` mapping question ids to an answer, or to
    {answer: ..., name: ...} / {answer: ..., date: ...}. See docs/assessment.md."""
    if len(text) > MAX_BYTES:
        raise QuestionnaireError([{"line": None, "id": "", "msg": f"over {MAX_BYTES} bytes"}])
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise QuestionnaireError([{"line": None, "id": "", "msg": "not UTF-8 text"}]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise QuestionnaireError(
            [{"line": line, "id": "", "msg": f"not valid YAML: {getattr(exc, 'problem', exc)}"}]
        ) from None
    answers_node = _answers_node(root)
    if answers_node is None or not isinstance(doc, dict) or not isinstance(doc["answers"], dict):
        raise QuestionnaireError(
            [{"line": 1, "id": "", "msg": "expected a mapping `answers:` of question id: answer"}]
        )
    values = doc["answers"]
    items: list[tuple[str, Any, int | None]] = []
    for key_node, _ in answers_node.value:
        key = yaml.safe_load(yaml.serialize(key_node))
        items.append((str(key), values.get(key), key_node.start_mark.line + 1))
    return check(items)


def _answers_node(root: yaml.Node | None) -> yaml.MappingNode | None:
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "answers":
            return value if isinstance(value, yaml.MappingNode) else None
    return None


def from_mapping(answers: Mapping[str, Any]) -> list[Answer]:
    """Answers given as a mapping (the API's body, the web form)."""
    return check((qid, raw, None) for qid, raw in answers.items())


def safeguard_values(answers: Iterable[Answer]) -> dict[str, float | None]:
    """Per safeguard, the mean of the answers that evidence it (None: only `unknown`)."""
    questions = by_id()
    gathered: dict[str, list[float | None]] = {}
    for a in answers:
        question = questions.get(a.question_id)
        if question is None:  # a question retired since it was answered
            continue
        for sid in question.safeguards:
            gathered.setdefault(sid, []).append(a.value)
    out: dict[str, float | None] = {}
    for sid, values in gathered.items():
        known = [v for v in values if v is not None]
        out[sid] = sum(known) / len(known) if known else None
    return out
