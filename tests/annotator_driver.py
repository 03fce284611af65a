"""Test-only: the real vrai-annotate window, edited through the real document API on a timer.

``python -m tests.annotator_driver ROOT CLIP LOG`` opens CLIP in stage 1 exactly as
``vrai-annotate ROOT --clip CLIP`` does, then adds a vehicle every 40 ms, cycling over
the frames, and appends ``<key> <unix time>`` to LOG (flushed and fsynced) after each
edit, until it is killed. A test SIGKILLs it and compares LOG with the clip's file.
"""
from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt6.QtCore import QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from annotator.app import create_window, parse_args  # noqa: E402
from annotator.document import ClipDocument  # noqa: E402

INTERVAL_MS = 40


def main(root: str, clip_id: str, log_path: str) -> int:
    app = QApplication([sys.argv[0]])
    window = create_window(parse_args([root, "--clip", clip_id, "--annotator", "driver"])[0])
    window.show()
    doc = window.doc
    assert isinstance(doc, ClipDocument) and not doc.read_only
    log = open(log_path, "a", encoding="utf-8")
    frames = doc.frame_indices
    w, h = doc.image_size
    count = 0

    def edit() -> None:
        nonlocal count
        frame = frames[count % len(frames)]
        x = 4 + (count // len(frames)) * 7 % max(w - 40, 1)
        y = 4 + (count * 13) % max(h - 30, 1)
        key = doc.add_instance(frame, [(x, y), (x + 30, y + 2), (x + 28, y + 20), (x, y + 18)])
        log.write(f"{key} {time.time():.6f}\n")
        log.flush()
        os.fsync(log.fileno())
        count += 1

    timer = QTimer()
    timer.timeout.connect(edit)
    timer.start(INTERVAL_MS)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
