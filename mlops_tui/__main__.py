"""`python -m mlops_tui`: the same as the `mlops-tui` command."""

from mlops_tui.tui.cli import main

raise SystemExit(main())
