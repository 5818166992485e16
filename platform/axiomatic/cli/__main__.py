"""``python -m axiomatic.cli``: the ``platform`` command without its console script."""

from axiomatic.cli import main

raise SystemExit(main())
