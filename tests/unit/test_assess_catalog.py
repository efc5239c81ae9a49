"""The shipped catalog: the 56 IG1 safeguards, their classes and their CSF roll-up."""

from __future__ import annotations

from collections import Counter

import pytest

from forewarn.assess.catalog import CSF_FUNCTIONS, CatalogError, load, parse


def test_exactly_the_56_ig1_safeguards() -> None:
    c = load()
    assert len(c.safeguards) == 56
    per_control = Counter(s.control for s in c.safeguards)
    expected = {1: 2, 2: 3, 3: 6, 4: 7, 5: 4, 6: 5, 7: 4, 8: 3, 9: 2, 10: 3, 11: 4, 12: 1}
    assert dict(per_control) == {**expected, 14: 8, 15: 1, 17: 3}
    assert Counter(s.evidence for s in c.safeguards) == {"A": 17, "P": 16, "Q": 23}
    assert "14.9" not in c.ids() and c.get("13.1") is None


def test_every_safeguard_maps_to_a_csf_category() -> None:
    categories = {cat for cats in CSF_FUNCTIONS.values() for cat in cats}
    c = load()
    assert all(s.csf in categories for s in c.safeguards)
    assert c.get("3.6").csf == "PR.DS"  # type: ignore[union-attr]
    assert c.get("15.1").function == "GV"  # type: ignore[union-attr]
    assert {s.function for s in c.safeguards} == set(CSF_FUNCTIONS)


def test_titles_are_our_own_short_words() -> None:
    for s in load().safeguards:
        assert 5 <= len(s.title) <= 60 and s.guidance.endswith(".")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("controls: {1: x}\nsafeguards: [{id: '1.1', ev: Z, csf: ID.AM, title: t, guidance: g}]",
         "evidence class"),
        ("controls: {1: x}\nsafeguards: [{id: '1.1', ev: A, csf: XX.YY, title: t, guidance: g}]",
         "CSF"),
        ("controls: {1: x}\nsafeguards: [{id: '2.1', ev: A, csf: ID.AM, title: t, guidance: g}]",
         "control 2"),
        ("controls: {1: x}\nsafeguards: [{id: '1.1', ev: A, csf: ID.AM, title: t, guidance: g},"
         " {id: '1.1', ev: A, csf: ID.AM, title: t, guidance: g}]", "repeat"),
    ],
)  # fmt: skip
def test_a_broken_catalog_is_refused(text: str, words: str) -> None:
    with pytest.raises(CatalogError, match=words):
        parse(text)
