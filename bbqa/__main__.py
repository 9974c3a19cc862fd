"""``python -m bbqa`` runs the command-line interface."""

from bbqa.console import main

main()
