"""``python -m app``: the ``archcalc`` command line."""

from app.cli import main

main()
