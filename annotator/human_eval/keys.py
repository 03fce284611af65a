"""The human test's keys, in the format of the shell's action table (see :mod:`annotator.attributes.keys`).

The test runs in its own window, which builds its actions from these rows; keymap
files override them like any other action ("human_eval.left" = "J").
"""
from __future__ import annotations

SCOPE = "human_eval"

Row = tuple[str, str, "str | tuple[str, ...]", str, str, str]

ROWS: tuple[Row, ...] = (
    ("human_eval.left", "The left candidate is the query's vehicle", "Left", "pick_left", SCOPE, ""),
    ("human_eval.right", "The right candidate is the query's vehicle", "Right", "pick_right", SCOPE, ""),
    ("human_eval.undo", "Take the last answer back", "Ctrl+Z", "undo", SCOPE, ""),
    ("human_eval.quit", "Stop (answers are saved; run the same command to resume)", ("Ctrl+Q", "Esc"),
     "close_window", SCOPE, ""),
)
