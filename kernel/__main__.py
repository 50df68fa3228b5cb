"""``python -m llmos``: the same as the ``llmos`` command."""

from .cli import main

main()
