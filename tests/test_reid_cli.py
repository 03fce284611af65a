"""`vrai-tools train`, `evaluate` and `report` end to end on the tiny ReID fixture."""
from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from schemas import HumanEvalResults, HumanEvalTrial, ReidMetrics
from vrai_tools.cli import cli
from vrai_tools.storage import load_model, save_model

from .reid_fixtures import make_reid_dataset

TINY = ["--preset", "multitask+dp", "--backbone", "resnet18", "--size", "64", "--epochs", "1", "--batch-p", "3",
        "--batch-k", "2", "--workers", "0"]
EVAL = ["--workers", "0", "--samples", "2"]
GAMMAS = ("1.1", "1.3", "1.5", "1.7", "1.9")


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)  # 2 shared cores: OpenMP spinning with 2 threads under load is much slower


def run_cli(*args: object) -> tuple[int, str]:
    r = CliRunner().invoke(cli, [str(a) for a in args])
    return r.exit_code, r.output


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("reid-cli")
    root = make_reid_dataset(base / "data", vehicles=12, frames=3)
    run = base / "run"
    code, out = run_cli("train", root, "--split", "s0", "--out", run, *TINY)
    assert code == 0, out
    return root, run, out


def test_train_writes_the_run_folder(trained: tuple[Path, Path, str]) -> None:
    root, run, out = trained
    assert "training multitask+dp (resnet18, 64px) on cpu: 36 images of 6 vehicles" in out
    assert f"{run}: 1 of 1 epochs of multitask+dp (resnet18, 64 px, parts ground-truth)" in out
    assert "epoch 1 on s0: mAP" in out and f"next: vrai-tools evaluate {root} --split s0 --run {run}" in out
    for name in ("config.json", "checkpoints/last.pt", "metrics.jsonl", "report.md", "plots/training.png"):
        assert (run / name).is_file(), name
    cfg = json.loads((run / "config.json").read_text())
    assert (cfg["preset"], cfg["backbone"], cfg["size"], cfg["epochs"], cfg["batch_p"], cfg["batch_k"]) == \
        ("multitask+dp", "resnet18", 64, 1, 3, 2)
    assert cfg["parts"] == "ground-truth" and cfg["root"] == str(root.resolve())
    assert "Traceback" not in out


def test_config_file_is_overridden_by_options(trained: tuple[Path, Path, str], tmp_path: Path) -> None:
    root, _, _ = trained
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps({"split": "s0", "preset": "triplet", "backbone": "resnet18", "size": 32,
                                "epochs": 1, "batch_p": 3, "batch_k": 2, "workers": 0, "eval_every": None,
                                "lr": 0.0005}))
    code, out = run_cli("train", root, "--config", conf, "--preset", "id", "--out", tmp_path / "r", "-q")
    assert code == 0, out
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (cfg["preset"], cfg["size"], cfg["lr"], cfg["eval_every"]) == ("id", 32, 0.0005, None)


def test_resume_continues_an_interrupted_run(trained: tuple[Path, Path, str], tmp_path: Path) -> None:
    from reid.config import TrainConfig
    from reid.engine.fit import train

    root, _, _ = trained
    run = tmp_path / "r"
    cfg = TrainConfig(root=str(root), split="s0", preset="triplet", backbone="resnet18", size=32, epochs=2,
                      batch_p=3, batch_k=2, workers=0, eval_every=None)
    train(cfg, run, stop_after=1, quiet=True)  # as if killed after epoch 1
    code, out = run_cli("train", root, "--out", run, "--resume", "--workers", "0", "--split", "s0")
    assert code == 0, out
    assert f"resuming {run} after epoch 1 of 2" in out and "epoch 1/2" not in out
    assert f"{run}: 2 of 2 epochs of triplet (resnet18, 32 px, parts none)" in out
    assert [r["epoch"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())] == [1, 2]


def test_evaluate_prints_and_writes_validated_metrics(trained: tuple[Path, Path, str]) -> None:
    root, run, _ = trained
    code, out = run_cli("evaluate", root, "--run", run, *EVAL)  # multitask+dp: weighted feature by default
    assert code == 0, out
    tag = "s0-weighted-euclidean-g1.3"
    m = load_model(run / "evaluations" / f"{tag}.json", ReidMetrics)
    assert (m.provenance.dataset, m.provenance.split, m.provenance.seed, m.provenance.protocol) == \
        ("reid-fixture", "s0", 0, "vrai-5.1")
    assert (m.feature, m.metric, m.provenance.parts, m.num_query, m.num_gallery) == \
        ("weighted", "euclidean", "ground-truth", 12, 24)
    assert 0 <= m.mAP <= 1 and set(m.cmc) == {"1", "5", "10"} and m.extra["gamma"] == 1.3
    assert set(m.attributes) == {"color_acc", "type_acc", "skylight_acc", "bumper_acc", "spare_tire_acc",
                                 "luggage_rack_acc"}
    assert f"{tag}: split s0 (seed 0, protocol vrai-5.1), weighted feature, γ 1.3, euclidean distance" in out
    assert "| metric (%) | run (last, epoch 1) |" in out
    assert f"| mAP | {100 * m.mAP:.2f} |" in out and f"| CMC-10 | {100 * m.cmc['10']:.2f} |" in out
    assert f"| Color accuracy | {100 * m.attributes['color_acc']:.2f} |" in out and "| mINP |" in out
    assert f"metrics: {run / 'evaluations' / (tag + '.json')}" in out and f"report:  {run / 'report.md'}" in out
    for p in ("attributes", "type-confusion", "cmc", "ranked"):
        assert (run / "plots" / f"{tag}-{p}.png").is_file(), p
    assert f"`{tag}`" in (run / "report.md").read_text()

    code, out = run_cli("evaluate", root, "--run", run, "--feature", "avg", "--checkpoint", "init", *EVAL, "-q")
    assert code == 0, out
    init = load_model(run / "evaluations" / "s0-avg-euclidean-init.json", ReidMetrics)
    assert init.provenance.run == "run (init)" and init.extra["epoch"] == 0 and init.provenance.parts == "ground-truth"
    assert "| metric (%) | run (init, epoch 0) |" in out and "evaluating" not in out  # -q: no progress lines


def test_gamma_sweep_table(trained: tuple[Path, Path, str]) -> None:
    root, run, _ = trained
    code, out = run_cli("evaluate", root, "--run", run, "--gamma-sweep", *EVAL, "-q")
    assert code == 0, out
    assert "| feature | γ | mAP | CMC-1 | CMC-5 | CMC-10 | mINP |" in out
    rows = [line for line in out.splitlines() if line.startswith("| weighted |")]
    assert [r.split("|")[2].strip() for r in rows] == list(GAMMAS)
    assert "| avg (reference) | 1 |" in out
    sweep = run / "s0-gamma-sweep-euclidean.md"
    assert f"wrote {sweep}" in out
    text = sweep.read_text()
    assert all(f"| weighted | {g} |" in text for g in GAMMAS)
    assert "γ sweep (paper Table 5)" in (run / "report.md").read_text()
    assert not list((run / "evaluations").glob("*-g1.1*")), "a sweep writes one table, not one evaluation per γ"
    code, out = run_cli("evaluate", root, "--run", run, "--gamma-sweep", "--feature", "avg")
    assert code == 2 and "--gamma-sweep evaluates the weighted feature; leave out --feature avg" in out


def test_detected_parts_and_submission(trained: tuple[Path, Path, str], tmp_path: Path) -> None:
    """--parts FILE: the weighted feature over detected boxes; none detected = the plain average."""
    from schemas import PartDetections

    root, run, _ = trained
    split = json.loads((root / "splits" / "s0.json").read_text())
    dets = tmp_path / "parts.json"
    save_model(dets, PartDetections(detector="hand-made", split="s0",
                                    instances={k: [] for k in split["query"] + split["gallery"]}))
    sub = tmp_path / "answers.json"
    code, out = run_cli("evaluate", root, "--run", run, "--parts", dets, "--submission", sub, *EVAL, "-q")
    assert code == 0, out
    m = load_model(run / "evaluations" / "s0-weighted-euclidean-g1.3.json", ReidMetrics)
    assert m.provenance.parts == "detected" and "part boxes detected" in out
    assert f"EvalAI submission: {sub}" in out
    doc = json.loads(sub.read_text())
    assert [r["query_id"] for r in doc["reid_result"]] == list(range(12))
    assert all(sorted(r["ans_ids"]) == list(range(24)) for r in doc["reid_result"])
    code, _ = run_cli("evaluate", root, "--run", run, "--feature", "avg", *EVAL, "-q")
    avg = load_model(run / "evaluations" / "s0-avg-euclidean.json", ReidMetrics)
    assert code == 0 and abs(avg.mAP - m.mAP) < 1e-6  # no part box: weight 1 everywhere


def _human_results(root: Path, path: Path, split: str = "s0") -> None:
    """Five trials on the fixture's test vehicles 6..11 (key p1-<cam>:<frame * 12 + vehicle>); the
    person answers four, three of them right, in 2, 3, 4 and 1 seconds."""
    t = [("p1-B:18", "p1-A:6", "p1-A:7", "left", 6, 7, "left", 2.0),
         ("p1-B:31", "p1-A:8", "p1-A:19", "right", 7, 8, "right", 3.0),
         ("p1-B:20", "p1-A:32", "p1-A:9", "left", 8, 9, "right", 4.0),
         ("p1-B:33", "p1-B:10", "p1-B:9", "right", 9, 10, "right", 1.0),
         ("p1-B:22", "p1-A:10", "p1-A:11", "left", 10, 11, None, None)]
    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    trials = [HumanEvalTrial(index=i, query=q, left=left, right=right, same=same, query_vehicle=qv,  # type: ignore[arg-type]
                             distractor_vehicle=dv, answer=a, seconds=s, answered_at=when if a else None)  # type: ignore[arg-type]
              for i, (q, left, right, same, qv, dv, a, s) in enumerate(t)]
    save_model(path, HumanEvalResults(dataset="reid-fixture", split=split, seed=0, queries=5, annotator="tester",
                                      created=when, trials=trials))


def test_human_eval_beside_the_model(trained: tuple[Path, Path, str], tmp_path: Path) -> None:
    from reid.engine.evaluate import evaluate_run
    from vrai_tools.human_eval import human_vs_model

    root, run, _ = trained
    results = tmp_path / "human.json"
    _human_results(root, results)
    code, out = run_cli("evaluate", root, "--run", run, "--feature", "avg", "--human-eval", results, *EVAL, "-q")
    assert code == 0, out
    assert "Human performance (paper §5.6, Table 6): split s0, seed 0, 4 of 5 trials answered" in out
    assert "| Human (tester) | 4 | 75.0 % | 2.5 |" in out
    ev = evaluate_run(root, "s0", run, feature="avg", workers=0, samples=0, write=False)
    expected = human_vs_model(results, features=ev.features_by_key())
    assert f"| Model (run (last, epoch 1), avg feature) | 4 | {100 * expected.model_accuracy:.1f} % | — |" in out
    assert f"(the model on all 5 trials of the file: {100 * expected.model_correct_all / 5:.1f} %)" in out

    other = tmp_path / "other.json"
    _human_results(root, other, split="s1")
    code, out = run_cli("evaluate", root, "--run", run, "--human-eval", other, *EVAL)
    assert code == 1
    assert out.strip() == (f"Error: {other}: split: the test was made on split 's1', not 's0' "
                           "(pass --split s1)")


def test_report_compares_runs(trained: tuple[Path, Path, str], tmp_path: Path) -> None:
    root, run, _ = trained
    code, _ = run_cli("evaluate", root, "--run", run, "--feature", "avg", *EVAL, "-q")
    assert code == 0
    m = load_model(run / "evaluations" / "s0-avg-euclidean.json", ReidMetrics)
    bare = tmp_path / "bare"
    shutil.copytree(run, bare, ignore=shutil.ignore_patterns("evaluations"))
    code, out = run_cli("report", run, bare, "--split", "s0")
    assert code == 0, out
    assert "| run | preset | backbone | size | split | feature | distance | parts | mAP |" in out
    assert (f"| run | multitask+dp | resnet18 | 64 | s0 | avg | euclidean | ground-truth boxes | {100 * m.mAP:.2f} | "
            f"{100 * m.cmc['1']:.2f} |") in out
    assert "| run | multitask+dp | resnet18 | 64 | s0 | weighted (γ=1.3) | euclidean | detected boxes |" in out
    assert "## Attribute accuracy (%)" in out and f"Not evaluated yet on split s0: `{bare}`" in out
    dest = tmp_path / "cmp.md"
    code, out = run_cli("report", run, "--out", dest)
    assert code == 0 and out.strip() == f"wrote {dest} (1 run(s))"
    assert dest.read_text().startswith("# ReID runs compared")
    before = dest.read_bytes()
    code, out = run_cli("report", run, bare, "--out", dest)
    assert code == 2 and f"{dest} exists; pass --force to replace it" in out and dest.read_bytes() == before
    code, out = run_cli("report", tmp_path / "nothing")
    assert code == 1 and out.strip() == (f"Error: {tmp_path / 'nothing'}: not a training run (no config.json); "
                                         "train one with `vrai-tools train`")


def test_one_line_errors_and_untouched_files(trained: tuple[Path, Path, str], tmp_path: Path) -> None:
    root, run, _ = trained
    before = snapshot(run)
    ds = root.resolve()

    def error(*args: object) -> str:
        code, out = run_cli(*args)
        assert code == 1, out
        assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
        return out.strip()

    # unknown split: in train (nothing created) and in evaluate (the run untouched)
    new = tmp_path / "new"
    assert error("train", root, "--split", "nope", "--out", new, *TINY) == \
        f"Error: {ds / 'splits' / 'nope.json'}: no split named 'nope' (have: s0)"
    assert not new.exists()
    assert error("evaluate", root, "--run", run, "--split", "nope", *EVAL) == \
        f"Error: {root / 'splits' / 'nope.json'}: no split named 'nope' (have: s0)"
    # missing run
    assert error("evaluate", root, "--run", tmp_path / "missing", *EVAL) == \
        f"Error: {tmp_path / 'missing'}: not a training run (no config.json); train one with `vrai-tools train`"
    # an existing run is never trained over
    assert error("train", root, "--split", "s0", "--out", run, *TINY) == \
        f"Error: --out {run} already exists and is not empty (pass --resume to continue it); choose another folder"
    # --resume: with a changed option, of a folder that is no run, of a run without a checkpoint
    assert error("train", root, "--out", run, "--resume", "--epochs", "5") == \
        (f"Error: {run / 'config.json'}: --resume continues the run as configured; these options differ: "
         "epochs: run has 1, asked 5")
    assert error("train", root, "--out", tmp_path / "empty", "--resume") == \
        f"Error: {tmp_path / 'empty'}: not a training run (no config.json); train one with `vrai-tools train`"
    started = tmp_path / "started"
    started.mkdir()
    shutil.copy(run / "config.json", started / "config.json")
    assert error("train", root, "--out", started, "--resume") == \
        (f"Error: {started / 'checkpoints' / 'last.pt'}: no checkpoint to resume from (the run never finished an "
         f"epoch); delete {started} and start again")
    assert sorted(p.name for p in started.iterdir()) == ["config.json"]
    # config files: an unknown field, a wrong type
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"epochs": 2, "colour": "red"}))
    assert error("train", root, "--split", "s0", "--config", bad, "--out", new) == \
        f"Error: {bad}: colour: unknown field (known: see `vrai-tools train --help`)"
    bad.write_text(json.dumps({"epochs": "many"}))
    assert error("train", root, "--split", "s0", "--config", bad, "--out", new) == \
        f"Error: {bad}: epochs: Input should be a valid integer, unable to parse string as an integer"
    bad.write_text("{not json")
    assert error("train", root, "--split", "s0", "--config", bad, "--out", new).startswith(f"Error: {bad}: ")
    # a checkpoint that does not exist
    assert error("evaluate", root, "--run", run, "--checkpoint", tmp_path / "none.pt", *EVAL) == \
        f"Error: {tmp_path / 'none.pt'}: checkpoint not found"
    assert not new.exists()
    assert snapshot(run) == before, "a failing command changed the run folder"


def test_usage_errors(trained: tuple[Path, Path, str], tmp_path: Path) -> None:
    root, run, _ = trained
    code, out = run_cli("train", root, "--out", tmp_path / "r")
    assert code == 2 and "--split is required (the split to train on)" in out
    code, out = run_cli("train", root, "--out", run, "--resume", "--config", run / "config.json")
    assert code == 2 and "--resume uses the run's own config.json; leave out --config" in out
    code, out = run_cli("evaluate", root, "--run", run, "--feature", "avg", "--gamma", "1.5")
    assert code == 2 and "--gamma applies to the weighted feature only (--feature weighted)" in out
    code, out = run_cli("evaluate", root, "--run", run, "--gamma-sweep", "--gamma", "1.5")
    assert code == 2 and "--gamma-sweep and --gamma do not go together" in out
    sub = tmp_path / "sub.json"
    sub.write_text("{}")
    code, out = run_cli("evaluate", root, "--run", run, "--submission", sub)
    assert code == 2 and f"{sub} exists; pass --force to replace it" in out and sub.read_text() == "{}"
    code, out = run_cli("train", root, "--split", "s0", "--preset", "triplet", "--part-detections", run / "config.json",
                        "--out", tmp_path / "r")
    assert code == 2 and "preset 'triplet' does not use part boxes" in out and not (tmp_path / "r").exists()
    code, out = run_cli("train", tmp_path / "nowhere", "--split", "s0", "--out", tmp_path / "r")
    assert code == 2 and f"{tmp_path / 'nowhere'} is not a directory" in out


@pytest.mark.parametrize("cmd", ["train", "evaluate", "report", "demo"])
def test_help(cmd: str) -> None:
    code, out = run_cli(cmd, "--help")
    assert code == 0 and "Example" in out and "Usage: " in out


@pytest.mark.slow
def test_train_under_torchrun_with_two_processes(trained: tuple[Path, Path, str], tmp_path: Path) -> None:
    """What the README shows for DDP: `torchrun ... -m vrai_tools train`; gloo on the CPU, rank 0 reports."""
    import os
    import subprocess
    import sys

    root = trained[0]
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "vrai_tools",
           "train", str(root), "--split", "s0", "--preset", "triplet", "--backbone", "resnet18", "--size", "32",
           "--epochs", "1", "--batch-p", "2", "--batch-k", "2", "--workers", "0", "--out", str(out), "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("next: vrai-tools evaluate") == 1  # one report, from rank 0
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in history] == ["epoch", "eval"] and history[0]["images"] > 0
