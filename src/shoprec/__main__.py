"""`python -m shoprec` runs the CLI."""

from shoprec.cli.main import main

main()
