"""The app shell: overview, one view per stage, menus from the action table, status bar.

The shell owns what every stage shares: opening a document with its edit locks (or
read-only when someone else holds them), autosave, undo/redo, and closing cleanly.
"""
from __future__ import annotations

from functools import partial
from typing import Mapping

from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoGroup
from PyQt6.QtWidgets import QLabel, QMainWindow, QMenu, QMessageBox, QStackedWidget, QWidget

from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import LockedError, VraiToolsError
from vrai_tools.storage import FileLock

from .actions import ACTIONS, APP, OWN_WINDOW, ActionSpec
from .autosave import Autosaver
from .document import BaseDocument
from .overview import OverviewView
from .shortcuts_dialog import ShortcutsDialog
from .stages import STAGES, StageSpec, stage
from .stages.base import StageView

MENU_ORDER = ("File", "Edit", "Frame", "Vehicle", "View", "Help")
SHORTCUT_TITLES = {"human_eval": "Human test (--human-eval)"}  # Help → Shortcuts' names of the other windows
STATUS_MS = 6000


class MainWindow(QMainWindow):
    def __init__(self, root: DatasetRoot, annotator: str, bindings: Mapping[str, tuple[str, ...]],
                 settings: QSettings | None = None, parent: QWidget | None = None, *,
                 overview: bool = True) -> None:
        """``overview=False``: the caller opens a clip or pair straight away, so the overview's
        progress (every annotation file of the dataset, read in a worker) is not computed now,
        where it would compete with that first open for the CPU; it is, once shown."""
        super().__init__(parent)
        self.root = root
        self.annotator = annotator
        self.bindings = dict(bindings)
        self.settings = settings
        self.doc: BaseDocument | None = None
        self.autosaver: Autosaver | None = None
        self.locks: list[FileLock] = []
        self.current_stage: str | None = None
        self.current_target: str | None = None
        self.undo_group = QUndoGroup(self)
        self._shortcuts: ShortcutsDialog | None = None

        self.stack = QStackedWidget(self)
        self.overview = OverviewView(root, self)
        self.overview.openRequested.connect(self.open_target)
        self.stack.addWidget(self.overview)
        self.info_label = QLabel(self)
        self.lock_label = QLabel(self)
        self.lock_label.setStyleSheet("color: white; background: #b03a2e; padding: 0 6px")
        self.lock_label.setVisible(False)
        self.save_label = QLabel(self)
        status = self.statusBar()
        status.addPermanentWidget(self.info_label)
        status.addPermanentWidget(self.lock_label)
        status.addPermanentWidget(self.save_label)
        status.addPermanentWidget(QLabel(f"annotator: {annotator}", self))

        self.views: dict[str, StageView] = {}
        for spec in STAGES:
            view = spec.view()
            view.status.connect(self.say)
            view.info.connect(self.info_label.setText)
            self.stack.addWidget(view)
            self.views[spec.id] = view
        self.setCentralWidget(self.stack)

        self.actions_by_id: dict[str, QAction] = {}
        self.menus: dict[str, QMenu] = {}
        self._build_actions()
        if settings is not None and settings.value("geometry") is not None:
            self.restoreGeometry(settings.value("geometry"))
        else:
            self.resize(1280, 800)
        if overview:
            self.show_overview()
        else:
            self.stack.setCurrentWidget(self.overview)
            self._enable_stage_actions(None)

    # ------------------------------------------------------------------ actions
    def _build_actions(self) -> None:
        last = MENU_ORDER[-1]
        mine = [a for a in ACTIONS if a.scope not in OWN_WINDOW]  # the human test's keys live in its own window
        names = dict.fromkeys([*MENU_ORDER[:-1], *(a.menu for a in mine if a.menu and a.menu != last), last])
        for name in names:  # stages' own menus go before Help
            self.menus[name] = self.menuBar().addMenu(name)
        self.specs: dict[str, ActionSpec] = {}
        for spec in mine:
            act = QAction(spec.text, self)
            act.setShortcuts([QKeySequence(k) for k in self.bindings.get(spec.id, ())])
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.triggered.connect(partial(self._dispatch, spec))
            self.addAction(act)
            self.actions_by_id[spec.id] = act
            self.specs[spec.id] = spec
            if spec.menu:
                self.menus[spec.menu].addAction(act)

    def _dispatch(self, spec: ActionSpec, *_: object) -> None:
        if spec.scope == APP:
            getattr(self, spec.handler)()
        elif spec.scope == self.current_stage:
            getattr(self.views[spec.scope], spec.handler)()

    def _enable_stage_actions(self, stage_id: str | None) -> None:
        """Only the shown stage's keys are live, so stages may reuse keys without ambiguity."""
        for spec in self.specs.values():
            if spec.scope != APP:
                self.actions_by_id[spec.id].setEnabled(spec.scope == stage_id)
        for menu in self.menus.values():
            menu.menuAction().setVisible(any(a.isEnabled() for a in menu.actions()))

    def action(self, action_id: str) -> QAction:
        return self.actions_by_id[action_id]

    # ------------------------------------------------------------------ messages
    def say(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_MS)

    def _error(self, text: str) -> None:
        self.say(text)
        self.overview.show_message(text)

    def _update_save_label(self) -> None:
        doc = self.doc
        if doc is None:
            self.save_label.setText("")
        elif doc.read_only:
            self.save_label.setText("read-only")
        elif doc.save_error:
            self.save_label.setText(f"NOT SAVED — {doc.save_error} (kept in memory, retrying)")
            self.save_label.setStyleSheet("color: white; background: #b03a2e; padding: 0 6px")
        else:
            self.save_label.setText("all changes saved" if doc.is_saved else "saving…")
            self.save_label.setStyleSheet("")

    def _update_title(self) -> None:
        where = ""
        if self.doc is not None and self.current_stage is not None:
            where = f" — {stage(self.current_stage).title}: {self.doc.title()}"
            if self.doc.read_only:
                where += " [read-only]"
        self.setWindowTitle(f"vrai-annotate — {self.root.root}{where}")

    # ------------------------------------------------------------------ opening and closing
    def confirm_break_stale(self, error: LockedError) -> bool:
        answer = QMessageBox.question(
            self, "Stale edit lock",
            f"{error}.\n\nThat process is no longer running (it probably crashed); what it autosaved is "
            "kept. Break its lock and edit?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _acquire(self, spec: StageSpec, target: str) -> tuple[list[FileLock], str]:
        """Locks on every file the stage writes, or none and the reason to open read-only."""
        locks: list[FileLock] = []
        for path in spec.files(self.root, target):
            lock = FileLock(path, user=self.annotator)
            try:
                lock.acquire()
            except LockedError as e:
                try:
                    if not (lock.is_stale() and self.confirm_break_stale(e)):
                        raise
                    lock.acquire(break_stale=True)
                except LockedError as still:
                    for held in locks:
                        held.release()
                    return [], str(still)
            locks.append(lock)
        return locks, ""

    def open_target(self, stage_id: str, target: str) -> bool:
        """Open a clip (or pair) in a stage; False, with the reason shown, when it cannot be opened."""
        spec = stage(stage_id)
        if not self.close_document():
            return False
        try:
            manifest = self.root.manifest()
            if spec.unit == "clip":
                manifest.clip(target)
            elif target not in {p.id for p in manifest.pairs}:
                raise KeyError(target)
        except KeyError:
            self._error(f"Cannot open {target!r}: no such {spec.unit} in {self.root.manifest_path}")
            return False
        except VraiToolsError as e:
            self._error(f"Cannot open {target!r}: {e}")
            return False
        locks, reason = self._acquire(spec, target)
        try:
            doc = spec.load(self.root, manifest, target, self.annotator, reason)
        except VraiToolsError as e:  # a corrupt file: refuse, and never overwrite it
            for lock in locks:
                lock.release()
            self._error(f"Cannot open {target!r}: {e}")
            return False
        self.doc, self.locks = doc, locks
        self.current_stage, self.current_target = stage_id, target
        if not doc.read_only:
            self.autosaver = Autosaver(doc, parent=self)
            self.autosaver.failed.connect(lambda err: self.say(f"Save failed: {err}"))
        doc.savedStateChanged.connect(self._update_save_label)
        self.undo_group.addStack(doc.undo_stack)
        self.undo_group.setActiveStack(doc.undo_stack)
        view = self.views[stage_id]
        view.set_document(doc)
        self.stack.setCurrentWidget(view)
        self._enable_stage_actions(stage_id)
        self.lock_label.setVisible(doc.read_only)
        self.lock_label.setText(f"READ-ONLY: {reason}" if reason else "")
        if reason:
            self.say(f"Opened read-only: {reason}")
        self.overview.show_message("")
        self._update_save_label()
        self._update_title()
        return True

    def close_document(self) -> bool:
        """Save, release the locks, and forget the document; False when the user keeps it open."""
        doc = self.doc
        if doc is None:
            return True
        if self.autosaver is not None:
            error = self.autosaver.flush()
            if error:
                answer = QMessageBox.warning(
                    self, "Changes not saved",
                    f"The last changes could not be saved:\n{error}\n\nClose anyway and lose them?",
                    QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                    QMessageBox.StandardButton.Cancel)
                if answer != QMessageBox.StandardButton.Discard:
                    return False
            self.autosaver.deleteLater()
            self.autosaver = None
        if self.current_stage is not None:
            self.views[self.current_stage].clear_document()
        self.undo_group.removeStack(doc.undo_stack)
        for lock in self.locks:
            lock.release()
        self.locks = []
        doc.deleteLater()
        self.doc = None
        self.current_stage = self.current_target = None
        self.lock_label.setVisible(False)
        self._update_save_label()
        return True

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.close_document():
            event.ignore()
            return
        if self.settings is not None:
            self.settings.setValue("geometry", self.saveGeometry())
            self.settings.sync()
        event.accept()

    # ------------------------------------------------------------------ app action handlers
    def show_overview(self) -> None:
        if not self.close_document():
            return
        self.stack.setCurrentWidget(self.overview)
        self._enable_stage_actions(None)
        self.info_label.setText("")
        self._update_title()
        self.overview.refresh()

    def save_now(self) -> None:
        if self.autosaver is None:
            self.say("nothing to save" if self.doc is None else "read-only: nothing is saved")
            return
        error = self.autosaver.flush()
        self.say(f"Save failed: {error}" if error else "Saved")

    def undo(self) -> None:
        self.undo_group.undo()

    def redo(self) -> None:
        self.undo_group.redo()

    def show_shortcuts(self) -> None:
        titles = {APP: "Everywhere", **{s.id: s.title for s in STAGES}, **SHORTCUT_TITLES}
        self._shortcuts = ShortcutsDialog(self.bindings, titles, self)
        self._shortcuts.show()
