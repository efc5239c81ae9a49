"""The questionnaire and answers files: every problem named, nothing half taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from forewarn.assess.catalog import load as load_catalog
from forewarn.assess.questionnaire import (
    QuestionnaireError,
    from_mapping,
    load,
    parse_answers,
    safeguard_values,
)


def test_every_q_and_p_safeguard_has_a_question() -> None:
    asked = {sid for q in load() for sid in q.safeguards}
    needed = {s.id for s in load_catalog().safeguards if s.evidence in ("Q", "P")}
    assert needed <= asked
    assert {q.detail for q in load()} == {None, "name", "date"}


def test_a_good_file_with_names_dates_and_yaml_booleans() -> None:
    answers = parse_answers(
        "answers:\n"
        "  incident_owner: {answer: yes, name: Dana Ruiz}\n"
        "  training_program: {answer: partly, date: 2026-09-14}\n"
        "  mfa_admins: no\n"
        "  backup_offline_copy: 'unknown'\n"
        "  dns_filtering: Partly\n"
    )
    got = {a.question_id: (a.answer, a.detail) for a in answers}
    assert got == {
        "incident_owner": ("yes", "Dana Ruiz"),
        "training_program": ("partly", "2026-09-14"),
        "mfa_admins": ("no", ""),
        "backup_offline_copy": ("unknown", ""),
        "dns_filtering": ("partly", ""),
    }


def test_each_problem_is_named_with_its_line_and_id() -> None:
    text = (
        "answers:\n"
        "  nope: yes\n"  # 2: unknown id
        "  mfa_admins: maybe\n"  # 3: bad answer
        "  incident_owner: yes\n"  # 4: needs a name
        "  training_program: {answer: yes, date: last week}\n"  # 5: bad date
        "  mfa_remote_access: {answer: yes, name: Bob}\n"  # 6: takes no name
        "  dns_filtering: yes\n"  # fine
        "  dns_filtering: no\n"  # 8: twice
    )
    with pytest.raises(QuestionnaireError) as caught:
        parse_answers(text)
    problems = {(p["line"], p["id"]) for p in caught.value.problems}
    assert problems == {
        (2, "nope"),
        (3, "mfa_admins"),
        (4, "incident_owner"),
        (5, "training_program"),
        (6, "mfa_remote_access"),
        (8, "dns_filtering"),
    }
    assert "line 3: mfa_admins: answer 'maybe'" in str(caught.value)


@pytest.mark.parametrize(
    "text", ["", "- a list\n", "answers: yes\n", "answers:\n  x: [unclosed\n", b"\xff\xfe"]
)
def test_a_file_that_is_not_an_answers_mapping_is_refused(text: str | bytes) -> None:
    with pytest.raises(QuestionnaireError) as caught:
        parse_answers(text)
    assert caught.value.problems and caught.value.problems[0]["msg"]


def test_mapping_answers_and_safeguard_values() -> None:
    answers = from_mapping(
        {"training_data": "yes", "training_reporting": "no", "vuln_process": "unknown"}
    )
    values = safeguard_values(answers)
    assert values["14.4"] == 1.0 and values["14.5"] == 1.0
    assert values["14.6"] == 0.0 and values["7.1"] is None
    assert "17.1" not in values
    with pytest.raises(QuestionnaireError, match="no answers"):
        from_mapping({})


def test_aliases_and_control_characters_are_refused_briefly() -> None:
    levels = ["  a: &a [x, x, x, x, x, x, x, x, x]\n"]
    for i, name in enumerate("bcdefgh"):
        prev = "abcdefgh"[i]
        levels.append(f"  {name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n")
    bomb = (
        "answers:\n"
        + "".join(levels)
        + (
            "  mfa_admins: *h\n"
            "  incident_owner: {answer: yes, name: *h}\n"
            "  recovery_plan: {answer: yes, date: *h}\n"
        )
    )
    with pytest.raises(QuestionnaireError) as caught:
        parse_answers(bomb)
    assert len(str(caught.value)) < 2000  # 9**8 items were never written out
    with pytest.raises(QuestionnaireError, match="control characters"):
        from_mapping({"incident_owner": {"answer": "yes", "name": "Dana\x00"}})


def test_the_example_in_the_docs_is_a_valid_answers_file() -> None:
    text = (Path(__file__).parents[2] / "docs" / "assessment.md").read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    answers = {a.question_id: a for a in parse_answers(example)}
    assert len(answers) == 11
    assert answers["incident_owner"].detail == "Dana Ruiz"
    assert answers["leaver_process"].answer == "yes"
