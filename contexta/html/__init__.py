"""Self-contained HTML for contexta: pages, SVG charts, the stage timeline and the lineage graph.

Everything here writes one HTML string with inline CSS and inline SVG (no script, no network).
Every user-supplied string is escaped. ``page()`` and the small helpers beside it are the shared
shell other packages (the model card) build on; see ``docs/reports.md``.
"""

from contexta.html.deltas import lower_is_better
from contexta.html.page import CSS, badge, fragment, page, section, stats, table
from contexta.html.svg import esc

__all__ = ["CSS", "badge", "esc", "fragment", "lower_is_better", "page", "section", "stats", "table"]
