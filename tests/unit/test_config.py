"""Settings that are easy to get wrong are refused when the server starts, not when used."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from forewarn.config import Settings


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (None, None),
        ("", None),
        ("https://forewarn.example.com", "https://forewarn.example.com"),
        ("https://forewarn.example.com/", "https://forewarn.example.com"),
        (" http://10.0.0.5:8080/forewarn/ ", "http://10.0.0.5:8080/forewarn"),
    ],
)
def test_public_url_is_kept_without_trailing_slash(given: str | None, kept: str | None) -> None:
    assert Settings(public_url=given).public_url == kept


@pytest.mark.parametrize(
    "given", ["forewarn.example.com", "ftp://forewarn.example.com", "https://", "https://x/?a=1"]
)
def test_public_url_must_be_a_web_address(given: str) -> None:
    with pytest.raises(ValidationError, match="FOREWARN_PUBLIC_URL"):
        Settings(public_url=given)


def test_public_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOREWARN_PUBLIC_URL", "https://forewarn.example.com/")
    assert Settings().public_url == "https://forewarn.example.com"
