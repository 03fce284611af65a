"""`vrai-tools demo` end to end at its --quick size, its re-run rules, and its refusal of empty detections."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from schemas import PartDetections, ReidMetrics
from vrai_tools.cli import cli
from vrai_tools.storage import load_model


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)


def run_cli(*args: object) -> tuple[int, str]:
    r = CliRunner().invoke(cli, [str(a) for a in args])
    return r.exit_code, r.output


@pytest.mark.slow
def test_quick_demo_trains_a_better_model_and_continues(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    code, text = run_cli("demo", "--out", out, "--quick", "--threads", "1")
    assert code == 0, text
    evals = out / "run" / "evaluations"
    untrained = load_model(evals / "demo-avg-euclidean-init.json", ReidMetrics)
    trained = load_model(evals / "demo-avg-euclidean.json", ReidMetrics)
    assert untrained.extra["epoch"] == 0 and trained.extra["epoch"] == 3
    assert trained.mAP > untrained.mAP + 0.1, (untrained.mAP, trained.mAP)
    assert trained.cmc["1"] > untrained.cmc["1"]
    for n in range(1, 6):
        assert f"[{n}/5] " in text
    assert "| metric (%) | untrained (init) | trained (epoch 3) |" in text
    assert f"| mAP | {100 * untrained.mAP:.2f} | {100 * trained.mAP:.2f} |" in text
    assert f"trained vs untrained: mAP {100 * untrained.mAP:.1f} % -> {100 * trained.mAP:.1f} %" in text
    assert "part boxes: none" in text
    assert f"report:  {out / 'run' / 'report.md'}" in text
    for name in ("summary.md", "demo.json", "dataset/dataset.json", "dataset/splits/demo.json", "run/report.md",
                 "run/plots/training.png", "run/plots/demo-avg-euclidean-cmc.png",
                 "run/plots/demo-avg-euclidean-ranked.png"):
        assert (out / name).is_file(), name
    assert "| mAP |" in (out / "summary.md").read_text()

    # The same settings again: every stage reused, the same numbers, nothing retrained.
    last = (out / "run" / "checkpoints" / "last.pt").stat().st_mtime_ns
    code, again = run_cli("demo", "--out", out, "--quick", "--threads", "1")
    assert code == 0, again
    assert "continuing the demo already there" in again and again.count("reusing") >= 5
    assert f"| mAP | {100 * untrained.mAP:.2f} | {100 * trained.mAP:.2f} |" in again
    assert (out / "run" / "checkpoints" / "last.pt").stat().st_mtime_ns == last

    # Other settings on the same folder, or a folder that is not a demo's: refused, nothing touched.
    code, refused = run_cli("demo", "--out", out, "--quick", "--epochs", "2")
    assert code == 1
    assert refused.strip() == (f"Error: --out {out} holds a demo made with other settings (epochs 3, now 2); "
                               f"rerun with those, delete {out}, or choose another --out")
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    code, refused = run_cli("demo", "--out", other, "--quick")
    assert code == 1
    assert refused.strip() == (f"Error: --out {other} exists and is not a demo folder (no demo.json); choose a new "
                               "or empty folder")
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_demo_refuses_to_go_on_without_detected_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """multitask+dp must never fall back silently to the plain average when the detector finds nothing."""
    import reid.detection.predict as predict
    from reid.demo import DemoError, DemoSettings, _detect, _State

    def nothing(*_a: object, **_k: object) -> PartDetections:
        return PartDetections(detector="d", split="demo", instances={"c-A:0": [], "c-A:1": []})

    monkeypatch.setattr(predict, "detect_parts", nothing)
    state = _State(tmp_path / "out", DemoSettings(preset="multitask+dp", quick=True))
    state.open()
    with pytest.raises(DemoError, match=r"found no part in any of the 2 crops, so the weighted feature would be "
                                        r"the plain average"):
        _detect(tmp_path / "data", tmp_path / "out" / "detector", tmp_path / "out" / "parts-demo.json", state,
                lambda _t: None, True)
    assert "detect-parts" not in state.done


def test_unknown_preset_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    code, out = run_cli("demo", "--out", tmp_path / "d", "--preset", "nope")
    assert code == 2 and "Invalid value for '--preset'" in out
    assert not (tmp_path / "d").exists()
