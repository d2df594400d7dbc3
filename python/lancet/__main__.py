"""``python -m lancet``: the same as the ``lancet`` command."""
import sys

from lancet.cli import main

if __name__ == "__main__":
    sys.exit(main())
