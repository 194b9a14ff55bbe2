"""``python -m scoligait_edge.kmap [--markdown | --hash]``: print the feature catalog."""

from scoligait_edge.kmap.catalog import main

raise SystemExit(main())
