"""Checklist templates' parameters, ticket names and client flag (assess.plans): what a file
may declare, each mistake named, and the ticket's title from the filled parameters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forewarn.assess.plans import (
    TITLE_MAX,
    Checklist,
    ChecklistError,
    Parameter,
    Step,
    load_checklists,
    parse_checklists,
)

GOOD = """
checklists:
  - id: leaver
    title: A leaver
    clients: true
    parameters:
      - id: person
        label: Their name
      - id: last_day
        label: Their last day
        kind: date
        required: false
    name: "{person} ({last_day})"
    steps:
      - title: Disable every account
        safeguards: ["6.2"]
"""


def test_parameters_name_and_clients_are_read() -> None:
    (c,) = parse_checklists(GOOD)
    assert c.clients and c.name == "{person} ({last_day})"
    assert c.parameters == (
        Parameter("person", "Their name"),
        Parameter("last_day", "Their last day", "date", required=False),
    )
    assert c.ticket_title({"person": "Sam  Smith", "last_day": "2026-12-31"}) == (
        "Onboard: Sam Smith (2026-12-31)"
    )
    assert c.to_json()["parameters"][1] == {
        "id": "last_day",
        "label": "Their last day",
        "kind": "date",
        "required": False,
    }


def test_the_shipped_templates_each_ask_for_a_name_and_only_people_are_for_clients() -> None:
    by_id = {c.id: c for c in load_checklists()}
    for c in by_id.values():
        assert c.parameters and c.parameters[0].required
    assert {c.id for c in by_id.values() if c.clients} == {"new-hire", "leaver"}
    assert by_id["new-laptop"].parameters[0].kind == "asset"


def test_every_mistake_in_parameters_and_name_is_named() -> None:
    text = """
checklists:
  - id: leaver
    title: A leaver
    clients: "yes"
    parameters:
      - id: Person
        label: ""
        kind: phone
        required: maybe
        colour: red
      - id: person
        label: Name
      - id: person
        label: Name again
    name: "{person} {badge} {person!r}"
    steps:
      - title: Disable every account
  - id: new-hire
    title: A new hire
    parameters: person
    name: "{oops"
    steps:
      - title: Create accounts
"""
    with pytest.raises(ChecklistError) as refused:
        parse_checklists(text)
    assert list(refused.value.problems) == [
        "checklist leaver.parameters[0]: unknown key 'colour'",
        "checklist leaver.parameters[0].id: must be lower-case letters, digits and underscores",
        "checklist leaver.parameters[0].label: must be non-empty text",
        "checklist leaver.parameters[0].kind: 'phone' is not one of text, date, asset",
        "checklist leaver.parameters[0].required: must be true or false",
        "checklist leaver.parameters: 'person' is used twice",
        "checklist leaver.name: {badge} is not one of its parameters",
        "checklist leaver.name: {person} must be a plain placeholder, "
        "without a conversion or format",
        "checklist leaver.clients: must be true or false",
        "checklist new-hire.parameters: must be a list",
        "checklist new-hire.name: expected '}' before end of string (write {{ and }} for a brace)",
    ]


def test_without_a_name_the_first_parameter_names_the_ticket() -> None:
    step = (Step("Do it", "", ()),)
    named = Checklist("x", "A thing", "", step, (Parameter("app", "App"),))
    assert named.ticket_title({"app": "Xero"}) == "Onboard: Xero"
    assert Checklist("x", "A thing", "", step).ticket_title({}) == "Onboard: A thing"


@given(st.text(max_size=400))
def test_a_ticket_title_is_one_line_within_the_limit(value: str) -> None:
    c = Checklist("x", "X", "", (Step("s", "", ()),), (Parameter("p", "P"),), "{p} (x)")
    title = c.ticket_title({"p": value})
    assert title.startswith("Onboard: ") and len(title) <= TITLE_MAX
    assert "\n" not in title and "  " not in title
