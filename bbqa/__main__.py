"""``python -m bbqa`` runs the command-line interface."""

from bbqa.cli import main

main()
