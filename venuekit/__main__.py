"""Allow ``python -m venuekit``."""

from venuekit.cli import main

raise SystemExit(main())
