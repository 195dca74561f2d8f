"""`python -m water`: the `water` command, for environments where its script is not on PATH."""
from water.cli import main

main()
