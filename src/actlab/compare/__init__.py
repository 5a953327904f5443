"""``actlab compare``: every claim on a set of activations, a scorecard, and the CS231n rule of
thumb checked line by line (issue 23).

* :mod:`.scorecard`: the scorecard from the claims' ``per_activation`` numbers (pure);
* :mod:`.rules`: the rule of thumb's sentences, pre-registered, decided from the scorecard;
* :mod:`.runner`: each claim's config, reuse of results already in DIR, running the rest;
* :mod:`.table`: the scorecard as Markdown (scorecard.md, the README block);
* :mod:`.folder`: ``DIR/compare/`` written with the run folders' rules.

Layer: above ``runs`` (it runs claims into run folders), below ``plots`` and ``report``.
"""

from __future__ import annotations

from .folder import COMPARE_FOLDER, SCORECARD, read_scorecard, write_compare_folder
from .rules import RULES, check_rule_of_thumb, refresh_scorecard
from .runner import COMPARE_QUICK, CompareError, plan, run_compare
from .scorecard import DEFAULT_ACTIVATIONS, build_scorecard
from .table import render_scorecard_markdown

__all__ = ["COMPARE_FOLDER", "SCORECARD", "read_scorecard", "write_compare_folder", "RULES", "check_rule_of_thumb", "refresh_scorecard",
           "COMPARE_QUICK", "CompareError", "plan", "run_compare", "DEFAULT_ACTIVATIONS", "build_scorecard",
           "render_scorecard_markdown"]
