"""`python -m forewarn` is the `forewarn` command (agent commands included)."""

from forewarn.entry import main

main()
