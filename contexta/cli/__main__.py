"""``python -m contexta.cli``: the same as the ``contexta`` console script."""

from contexta.cli.main import main

raise SystemExit(main())
