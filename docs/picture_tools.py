"""What the README picture scripts share: the app as a user starts it, waiting for it, small PNG files.

Used by ``docs/screenshots.py``, ``docs/screenshot_matching.py``, ``docs/screenshot_stages34.py``
and ``docs/pictures_synth.py`` (each runnable alone); ``docs/make_pictures.py`` runs them all.
"""
from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BUDGET = 400_000  # bytes per picture; README pictures stay well under 500 KB
SIZE = (1280, 800)  # the app windows: readable at README width, details still visible


def spin(cond: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Run the event loop until ``cond()`` holds (or ``timeout`` seconds pass); whether it holds."""
    from PyQt6.QtTest import QTest

    end = time.perf_counter() + timeout
    while not cond() and time.perf_counter() < end:
        QTest.qWait(10)
    return bool(cond())


def settle(rounds: int = 10) -> None:
    """Let queued signals and repaints through."""
    from PyQt6.QtTest import QTest

    for _ in range(rounds):
        QTest.qWait(5)


def private_settings(folder: Path) -> None:
    """Point the app's settings at ``folder``: a picture never reads or writes the user's own."""
    from annotator.settings import CONFIG_DIR_ENV

    os.environ[CONFIG_DIR_ENV] = str(folder)


def open_app(root: Path, *argv: str, size: tuple[int, int] | None = SIZE):
    """The real window, as ``vrai-annotate ROOT --annotator demo ARGV...`` opens it, shown at ``size``."""
    from annotator.app import create_window, parse_args

    window = create_window(parse_args([str(root), "--annotator", "demo", *argv])[0])
    if size is not None:
        window.resize(*size)
    window.show()
    settle()
    return window


def _encode(img, quantize: bool) -> bytes:
    from PIL import Image

    if quantize:
        img = img.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def save_png(picture, path: Path, budget: int = BUDGET) -> Path:
    """Write a QImage/QPixmap or a BGR array as PNG under ``budget`` bytes.

    Lossless when that fits; else 256 colours (screenshots barely change); else smaller steps.
    """
    from PIL import Image

    if isinstance(picture, np.ndarray):
        img = Image.fromarray(picture[:, :, ::-1].copy())  # OpenCV's BGR
    else:
        from PyQt6.QtCore import QBuffer, QIODevice

        qbuf = QBuffer()
        qbuf.open(QIODevice.OpenModeFlag.WriteOnly)
        picture.save(qbuf, "PNG")
        img = Image.open(io.BytesIO(bytes(qbuf.data()))).convert("RGB")
    data = _encode(img, quantize=False)
    while len(data) > budget:
        data = _encode(img, quantize=True)
        if len(data) > budget:
            img = img.resize((int(img.width * 0.9), int(img.height * 0.9)), Image.Resampling.LANCZOS)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def grab(widget, path: Path) -> Path:
    """Save what the widget shows (its window: menus, status bar) as a README picture."""
    doc = getattr(widget, "doc", None)
    if doc is not None:  # the status bar says "all changes saved", as it soon does for a user
        spin(lambda: doc.is_saved, timeout=10.0)
    settle()
    return save_png(widget.grab(), path)
