"""The report's HTML, split by role; this module keeps the names older code imports.

* :mod:`.page`: the page shell (``render_html``, CSS, the image-check script);
* :mod:`.summary`: tally, summary table, missing claims, monitor findings;
* :mod:`.section`: one claim's section;
* :mod:`.figures`: embedded figures and their captions;
* :mod:`.tables`: labelled metric tables;
* :mod:`.claims`: what the report asks of a claim's code (module, hooks, scale);
* :mod:`.values`: formatting of values, durations, commands.
"""

from __future__ import annotations

from .claims import rerun_command
from .figures import figure_caption, png_info
from .page import problems, render_html
from .tables import render_metrics
from .values import format_value, short_evidence

__all__ = ["render_html", "render_metrics", "rerun_command", "problems", "png_info", "figure_caption",
           "short_evidence", "format_value"]
