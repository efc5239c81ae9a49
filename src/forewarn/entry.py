"""Console-script entry points: `forewarn` and `forewarn-agent`.

`forewarn agent ...` goes straight to the agent's own command line without importing
forewarn.cli: that module pulls in Typer, Rich, SQLAlchemy and the services, which would
triple the agent's memory and slow every start on machines that only run the agent (and
which install `forewarn[agent]` without those libraries at all).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """`forewarn`: the agent's commands under `agent`, everything else to the server CLI."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["agent"]:
        from forewarn.agent.main import main as agent

        sys.exit(agent(args[1:], prog="forewarn agent"))
    if args[:1] == ["check"]:
        from forewarn.check_cli import app as check

        check(args[1:], prog_name="forewarn check")
        return
    from forewarn.cli import main as cli

    sys.argv = [sys.argv[0], *args]
    cli()


def agent_main(argv: Sequence[str] | None = None) -> None:
    """`forewarn-agent`: the agent's command line alone."""
    from forewarn.agent.main import main as agent

    sys.exit(agent(sys.argv[1:] if argv is None else list(argv), prog="forewarn-agent"))
