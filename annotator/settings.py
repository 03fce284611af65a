"""Per-user settings (annotator name, keymap path, window geometry) in QSettings.

``VRAI_ANNOTATE_CONFIG_DIR`` moves the settings file (an INI file) to another folder:
for shared workstations, portable installs, and tests, which must never read or
write the real user's settings.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from PyQt6.QtCore import QSettings

ORGANISATION = "vrai-tools"
APPLICATION = "vrai-annotate"
CONFIG_DIR_ENV = "VRAI_ANNOTATE_CONFIG_DIR"
ANNOTATOR_ENV = "VRAI_ANNOTATOR"


def app_settings() -> QSettings:
    folder = os.environ.get(CONFIG_DIR_ENV)
    if folder:
        return QSettings(str(Path(folder) / f"{APPLICATION}.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


def resolve_annotator(given: str | None, settings: QSettings, ask: Callable[[], str | None]) -> str | None:
    """The annotator's name: ``--annotator``, else $VRAI_ANNOTATOR, else remembered, else asked once.

    Stored in every provenance record and lock file, so it is remembered once known.
    """
    name = (given or os.environ.get(ANNOTATOR_ENV) or str(settings.value("annotator", "") or "")).strip()
    if not name:
        name = (ask() or "").strip()
    if name:
        settings.setValue("annotator", name)
        settings.sync()
    return name or None
