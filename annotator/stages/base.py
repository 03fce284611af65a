"""What every stage view gives the app shell."""
from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QWidget

from ..document import BaseDocument


class StageView(QWidget):
    """One stage's screen. The shell opens a document in it and routes the stage's actions to it.

    Action handlers (the ``handler`` column of :data:`annotator.actions.ACTIONS`) are
    plain methods of the view.
    """

    status = pyqtSignal(str)  # a passing message for the status bar
    info = pyqtSignal(str)  # a standing line: where the annotator is

    def set_document(self, doc: BaseDocument) -> None:
        raise NotImplementedError

    def clear_document(self) -> None:
        raise NotImplementedError
