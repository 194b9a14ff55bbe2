"""`python -m scoligait_edge.cli` runs the CLI."""

from scoligait_edge.cli import main

main()
