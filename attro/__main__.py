"""`python -m attro`: the same command line as the `attro` console script."""

from attro.cli import main

raise SystemExit(main())
