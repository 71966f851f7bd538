"""`python -m samplesort ...` runs the command-line interface."""

from samplesort.cli import main

main()
