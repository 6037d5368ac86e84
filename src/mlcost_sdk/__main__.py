"""``python -m mlcost_sdk`` is the ``mlcost`` command."""

from .cli import main

raise SystemExit(main())
