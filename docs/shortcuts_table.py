"""Print the app's shortcut table as Markdown, for README.md (the app's Help → Shortcuts in text).

    .venv/bin/python docs/shortcuts_table.py

Rows that differ only by a digit (pick candidate 1..9, set choice 0..9) are folded into one.
"""
from __future__ import annotations

import re
from collections import defaultdict

from annotator.actions import ACTIONS, MOUSE_GESTURES, ActionSpec
from annotator.stages import STAGES

TITLES = {"app": "Everywhere", **{s.id: s.title for s in STAGES}, "human_eval": "Human-performance test"}


def _folded(rows: list[ActionSpec]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    groups: dict[str, list[ActionSpec]] = defaultdict(list)
    order: list[str] = []
    for a in rows:
        stem = re.sub(r"_\d+$", "_#", a.id)
        if stem not in groups:
            order.append(stem)
        groups[stem].append(a)
    for stem in order:
        g = groups[stem]
        if len(g) == 1:
            out.append((" / ".join(g[0].keys) or "(unbound)", g[0].text))
        else:
            keys = [k for a in g for k in a.keys]
            text = re.sub(r"\b\d+\b", "k", g[0].text, count=1)
            out.append((f"{keys[0]}–{keys[-1]}", text))
    return out


def main() -> None:
    by_scope: dict[str, list[ActionSpec]] = defaultdict(list)
    for a in ACTIONS:
        by_scope[a.scope].append(a)
    for scope, rows in by_scope.items():
        print(f"**{TITLES.get(scope, scope)}**\n")
        print("| key | action |\n|---|---|")
        for keys, text in _folded(rows):
            print(f"| {keys.replace('|', '&#124;')} | {text} |")
        for gesture, text in MOUSE_GESTURES.get(scope, ()):
            print(f"| *{gesture}* | {text} |")
        print()


if __name__ == "__main__":
    main()
