"""Pure rules of the inventory: slugs, tags, roles, cursors, business hours."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from forewarn.domain.inventory import SLUG_PATTERN, Role, normalize_tags, role_allows, slugify
from forewarn.services.errors import ServiceError
from forewarn.services.pagination import decode_cursor, encode_cursor
from forewarn.services.schemas import BusinessHours, OrgCreate


@given(st.text(max_size=300))
def test_slugify_always_gives_a_valid_slug(name: str) -> None:
    assert re.match(SLUG_PATTERN, slugify(name))


def test_slugify_examples() -> None:
    assert slugify("Acme & Sons, Ltd.") == "acme-sons-ltd"
    assert slugify("  Müller GmbH ") == "m-ller-gmbh"
    assert slugify("!!!") == "org"


@given(st.lists(st.text(alphabet="abcABC -", max_size=5), max_size=10))
def test_normalize_tags_is_idempotent_sorted_and_unique(tags: list[str]) -> None:
    once = normalize_tags(tags)
    assert once == normalize_tags(once)
    assert once == sorted(set(once))
    assert all(t == t.lower().strip() and t for t in once)


def test_roles_are_ordered() -> None:
    assert role_allows(Role.ADMIN, Role.VIEWER)
    assert role_allows(Role.TECHNICIAN, Role.TECHNICIAN)
    assert not role_allows(Role.VIEWER, Role.TECHNICIAN)
    assert not role_allows(Role.TECHNICIAN, Role.ADMIN)


@given(st.integers(min_value=0, max_value=2**31))
def test_cursor_round_trips(last_id: int) -> None:
    assert decode_cursor(encode_cursor(last_id)) == last_id


@pytest.mark.parametrize("junk", ["%%%", "aWQ6LTE", "Zm9vOjE", "aWQ6eA", "\u00e9"])
def test_foreign_cursor_is_a_clear_error(junk: str) -> None:
    with pytest.raises(ServiceError) as exc:
        decode_cursor(junk)
    assert exc.value.status == 422


def test_business_hours_validation() -> None:
    hours = BusinessHours(days=[5, 1, 1, 2], start="07:30", end="17:00")
    assert hours.days == [1, 2, 5]
    assert hours.hours_per_week() == 3 * 9.5
    with pytest.raises(ValidationError):
        BusinessHours(start="18:00", end="08:00")
    with pytest.raises(ValidationError):
        BusinessHours(days=[0])


def test_org_refuses_unknown_timezone_and_fields() -> None:
    assert OrgCreate(name="A", timezone="Europe/Vienna").timezone == "Europe/Vienna"
    with pytest.raises(ValidationError, match="unknown time zone"):
        OrgCreate(name="A", timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="Extra inputs"):
        OrgCreate.model_validate({"name": "A", "employes": 3})
