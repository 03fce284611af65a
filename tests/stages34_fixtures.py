"""Test data for stages 3 and 4 and the human test: small synthetic pairs, and the real shell.

A synthetic dataset (``vrai-tools synth``: real MP4s, frames, corners and matching
filled, attributes and parts left to annotate, the truth in ``synth_truth.json``) is
generated once per test session and copied for each test, so every test edits its
own files. ``open_stage_window`` starts the real main window with the real command
line, so the shell's own stage table, action table and option parsing are what is tested.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from schemas import Attributes
from vrai_tools.dataset import DatasetRoot

PAIR = "p001"
TEMPLATE_CONFIG = dict(pairs=1, vehicles_per_pair=6, seconds=3, width=320, height=180, seed=3)


def _synth(out: Path, annotate: frozenset[str], **kw: object) -> DatasetRoot:
    from vrai_tools.synth import SynthConfig, generate

    cfg = {**TEMPLATE_CONFIG, **kw}
    return generate(out, SynthConfig(annotate=annotate, workers=1, **cfg))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def stages34_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Corners and matching done; attributes and parts still to do."""
    out = tmp_path_factory.mktemp("stages34") / "ds"
    _synth(out, frozenset({"corners", "matching"}))
    return out


@pytest.fixture
def pair_root(stages34_template: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "ds"
    shutil.copytree(stages34_template, dest)
    return dest


# Two looks shared by several vehicles, so each test vehicle has a same-attribute distractor.
LOOKS = (
    Attributes(color="White", type="Sedan", skylight=False, bumper=False, spare_tire=False, luggage_rack=False),
    Attributes(color="Black", type="SUV", skylight=False, bumper=True, spare_tire=False, luggage_rack=False),
)


def make_eval_dataset(out: Path, *, seed: int = 5, vehicles: int = 10) -> DatasetRoot:
    """A dataset with complete attributes (two looks, alternating by vehicle) and a split ``s0``."""
    from vrai_tools.index import load_index
    from vrai_tools.split import make_split, write_split

    ds = _synth(out, frozenset({"corners", "matching"}), vehicles_per_pair=vehicles, seconds=3, seed=seed)
    for pair in ds.manifest().pairs:
        m = ds.matching(pair.id)
        m.vehicles = [v.model_copy(update={"attributes": LOOKS[v.id % 2]}) for v in m.vehicles]
        ds.save_matching(m)
    split = make_split(load_index(ds), "s0", seed=1, test_fraction=0.6)
    write_split(ds, split)
    return ds


@pytest.fixture(scope="session")
def eval_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("humaneval") / "ds"
    make_eval_dataset(out)
    return out


@pytest.fixture
def eval_root(eval_template: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "eval"
    shutil.copytree(eval_template, dest)
    return dest


# ----------------------------------------------------------------------------- the real shell


def open_stage_window(qtbot, monkeypatch: pytest.MonkeyPatch, root: Path, stage: str, *extra: str, pair: str = PAIR):
    """The real main window, as ``vrai-annotate ROOT --pair PAIR --stage STAGE [EXTRA...]`` starts it."""
    from annotator.attributes import options as attribute_options
    from annotator.matching import options as matching_options
    from annotator.parts import options as part_options
    from tests.annotator_fixtures import open_window

    # the app sets these from the command line; put back what was there once the test is over
    monkeypatch.setattr(attribute_options, "MODEL_RUN", attribute_options.MODEL_RUN)
    monkeypatch.setattr(matching_options, "MODEL_RUN", matching_options.MODEL_RUN)
    monkeypatch.setattr(part_options, "DETECTOR", part_options.DETECTOR)
    window = open_window(qtbot, root, pair, "tester", "--stage", stage, *extra)
    assert window.current_stage == stage, "the stage did not open (see the status bar)"
    return window


def press(qtbot, window, *keys: str) -> None:
    """Type shortcut keys into the window as an annotator would (``"3"``, ``"Return"``, ``"Shift+Tab"``)."""
    from PyQt6.QtGui import QKeySequence
    from PyQt6.QtTest import QTest

    for text in keys:
        combo = QKeySequence(text)[0]
        target = window.focusWidget() or window
        QTest.keyClick(target, combo.key(), combo.keyboardModifiers())
