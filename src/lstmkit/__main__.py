"""``python -m lstmkit`` runs the CLI."""

from lstmkit.cli import main

if __name__ == "__main__":
    main()
