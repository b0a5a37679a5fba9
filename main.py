"""Explainable CNN: with no arguments, open the app; with a subcommand, run it headless.

Run ``python main.py --help`` for the subcommands.
"""
import sys

if __name__ == "__main__":
    try:
        from cli.commands import main
    except KeyboardInterrupt:      # Ctrl+C while the engine is still loading
        sys.exit(130)
    sys.exit(main())
