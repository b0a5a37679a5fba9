"""Explainable CNN: with no arguments, open the app; with a subcommand, run it headless.

Run ``python main.py --help`` for the subcommands.
"""
import sys

from cli.commands import main

if __name__ == "__main__":
    sys.exit(main())
