"""Stage 2's rows for the app's one action table (:data:`annotator.actions.ACTIONS`).

Plain data, importing nothing from the app, so ``annotator/actions.py`` can splice it
into its table without an import cycle::

    from .matching.keys import MATCHING_GESTURES, MATCHING_ROWS
    ... *(_row(i, t, k, h, "matching", m) for i, t, k, h, m in MATCHING_ROWS),

Columns: id, text, default keys, handler (a method of ``MatchingView``), menu.
Digits follow the field's habit (CVAT's attribute mode): the k-th candidate is key k.
"""
from __future__ import annotations

SCOPE = "matching"

MATCHING_ROWS: tuple[tuple[str, str, tuple[str, ...], str, str], ...] = (
    *((f"matching.pick_{k}", f"Same vehicle as candidate {k}", (str(k),), f"pick_{k}", "Match") for k in range(1, 10)),
    ("matching.no_match", "No match in the other camera", ("0", "N"), "no_match", "Match"),
    ("matching.next_query", "Next undecided query", ("Space", "Tab"), "next_query", "Match"),
    ("matching.prev_query", "Previous query", ("Shift+Tab", "Shift+Space"), "prev_query", "Match"),
    ("matching.unlink", "Unlink the query (undecided again)", ("U",), "unlink", "Match"),
    ("matching.uncertain", "Flag / unflag the query's vehicle as uncertain", ("Q",), "toggle_uncertain", "Match"),
    ("matching.swap", "Swap direction (queries from the other camera)", ("S",), "swap_direction", "Match"),
    ("matching.widen", "Widen the time window (×2)", ("W",), "widen_window", "Match"),
    ("matching.narrow", "Narrow the time window (÷2)", ("Shift+W",), "narrow_window", "Match"),
    ("matching.clear_filters", "Clear colour/type filters", ("Esc",), "clear_filters", "Match"),
    ("matching.review", "Review every vehicle / back to matching", ("R",), "toggle_review", "Match"),
    ("matching.open", "Review: open the selected vehicle for matching", ("Return", "Enter"), "open_selected", "Match"),
    ("matching.context", "Show / hide the frames around the crops", ("C",), "toggle_context", "View"),
    ("matching.split", "Split the query before the selected crop", ("K",), "split_query", "Tracklet"),
    ("matching.merge", "Merge the selected same-camera tracklet into the query", ("M",), "merge_neighbour",
     "Tracklet"),
    ("matching.move", "Move the selected crop to the selected same-camera tracklet", ("Shift+M",), "move_selected",
     "Tracklet"),
)

MATCHING_GESTURES: tuple[tuple[str, str], ...] = (
    ("Click a candidate", "Same vehicle as that candidate"),
    ("Click a query crop", "Select it (for split, move and frame context)"),
    ("Right-click a query crop", "Split here / move it to another tracklet"),
    ("Click a same-camera tracklet", "Select it (for merge and move)"),
)
