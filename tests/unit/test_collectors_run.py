"""Running tools: output as text, and no answer at all when a tool is missing or misbehaves."""

from __future__ import annotations

import time
from pathlib import Path

from forewarn.agent.collectors._run import find_tool, read_line, read_text, run_tool


def test_output_of_a_tool_is_its_text() -> None:
    assert run_tool(["printf", "a\\tb\\n"]) == "a\tb\n"


def test_tools_run_in_the_c_locale() -> None:
    assert run_tool(["sh", "-c", "echo $LC_ALL"]) == "C\n"


def test_missing_tool_gives_none() -> None:
    assert find_tool("no-such-tool-forewarn") is None
    assert run_tool(["no-such-tool-forewarn", "--help"]) is None


def test_failing_tool_gives_none_unless_its_code_is_accepted() -> None:
    assert run_tool(["sh", "-c", "echo partial; exit 3"]) is None
    assert run_tool(["sh", "-c", "echo partial; exit 3"], ok_codes=(0, 3)) == "partial\n"


def test_arguments_are_never_read_by_a_shell() -> None:
    assert run_tool(["echo", "$HOME; rm -rf /"]) == "$HOME; rm -rf /\n"


def test_a_hung_tool_is_stopped_at_the_timeout() -> None:
    started = time.monotonic()
    assert run_tool(["sleep", "30"], timeout=0.3) is None
    assert time.monotonic() - started < 5


def test_output_past_the_cap_gives_none_rather_than_a_truncated_list() -> None:
    started = time.monotonic()
    assert run_tool(["yes"], max_bytes=100_000) is None
    assert time.monotonic() - started < 5


def test_reading_files_tolerates_absence(tmp_path: Path) -> None:
    assert read_text(str(tmp_path / "absent")) is None
    assert read_line(str(tmp_path / "absent")) == ""
    (tmp_path / "f").write_bytes(b"  first \xff\nsecond\n")
    assert read_line(str(tmp_path / "f")) == "first \ufffd"
    (tmp_path / "empty").write_text("")
    assert read_line(str(tmp_path / "empty")) == ""
