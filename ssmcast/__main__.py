"""Entry point for ``python -m ssmcast`` and the ``ssmcast`` command."""

from ssmcast.cli import main

if __name__ == "__main__":
    main()
