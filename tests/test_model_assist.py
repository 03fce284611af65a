"""The app's model assistance with real trained runs: stage 2 ranking, stage 3 proposals, stage 4 detector.

Tiny runs are trained once for the module with the library itself (a multi-task and a
triplet-only ReID run, resnet18 at 32 px for one short epoch, and a part detector at
64 px), then used exactly as ``vrai-annotate --model RUN`` / ``--detector RUN`` use them.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from reid.config import TrainConfig
from reid.detection.config import DetectorTrainConfig
from reid.detection.train import train_detector
from reid.engine.fit import train
from vrai_tools import appearance as ap
from vrai_tools.crops import pixel_box
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError

from .annotator_fixtures import annotator_env  # noqa: F401  (fixture)
from .detector_fixtures import make_parts_dataset
from .matching_fixtures import PAIR as MATCH_PAIR
from .matching_fixtures import make_pair_dataset
from .reid_fixtures import make_reid_dataset
from .stages34_fixtures import open_stage_window, pair_root, press, stages34_template  # noqa: F401

SIZE = 32


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``multitask`` and ``triplet`` ReID runs, a part detector run, and the ReID dataset they came from."""
    torch.set_num_threads(1)  # 2 shared cores
    work = tmp_path_factory.mktemp("assist")
    root = make_reid_dataset(work / "reid-ds")
    out = {"data": root}
    for preset in ("multitask", "triplet"):
        cfg = TrainConfig(root=str(root), split="s0", preset=preset, backbone="resnet18", size=SIZE, epochs=1,
                          batch_p=3, batch_k=2, batches_per_epoch=2, workers=0, eval_every=None, device="cpu")
        train(cfg, work / preset, quiet=True)
        out[preset] = work / preset
    parts = make_parts_dataset(work / "parts-ds")
    # One epoch scores every box low: the run's own threshold (0 here) is what the app must apply.
    det = DetectorTrainConfig(root=str(parts), split="s0", size=64, fpn_channels=64, batch_size=4, epochs=1,
                              workers=0, warmup_iters=2, max_train_images=8, max_test_images=4, figure_samples=0,
                              conf_threshold=0.0, device="cpu")
    train_detector(det, work / "detector", quiet=True)
    assert not (work / "detector" / "figure7.png").exists()  # figure_samples 0: no picture, no crash
    out["detector"] = work / "detector"
    out["parts-data"] = parts
    return out


@pytest.fixture
def said(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every status-bar message of the windows opened by the test (they last only seconds on screen)."""
    from annotator.main_window import MainWindow

    got: list[str] = []
    original = MainWindow.say

    def say(self, text: str) -> None:
        got.append(text)
        original(self, text)

    monkeypatch.setattr(MainWindow, "say", say)
    return got


def _tight_crops(root: Path | DatasetRoot, keys, instances, frame_of) -> list[np.ndarray]:
    ds = root if isinstance(root, DatasetRoot) else DatasetRoot(root)
    out = []
    for k in keys:
        rel, size = frame_of(k)
        rgb = ap.read_rgb(ds, rel)
        x0, y0, x1, y1 = pixel_box(instances[k].bbox, size)
        out.append(rgb[y0:y1, x0:x1].copy())
    return out


# ----------------------------------------------------------------------------- the loader


def test_embedder_gives_the_evaluation_features_of_the_same_crops(runs: dict[str, Path]) -> None:
    from annotator.matching.model import load_embedder as app_loader
    from reid.data.dataset import load_crop
    from reid.data.items import build_items
    from reid.engine.embed import load_embedder
    from reid.engine.extract import extract_features
    from vrai_tools.index import load_index

    ds = DatasetRoot(runs["data"])
    items = build_items(load_index(ds), ds.split("s0"), "query", crops="frames", size=SIZE).items
    embedder = load_embedder(runs["multitask"], rotations=1)  # one view: exactly the evaluation feature
    assert embedder.checkpoint.name == "last.pt" and embedder.size == SIZE  # no best.pt: not evaluated
    ref = extract_features(embedder.run_model.model, items, size=SIZE, device=torch.device("cpu"),
                           batch_size=5)["avg"]
    crops = [load_crop(it)[0].permute(1, 2, 0).numpy() for it in items]  # HxWx3 uint8 RGB, as the app cuts them
    got = embedder.embed(crops)
    assert got.shape == (len(items), 512) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)
    embedder.run_model.batch_size = 4  # batching does not change a crop's embedding
    np.testing.assert_allclose(embedder.embed(crops), ref, rtol=0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 512)
    # the app's lookup finds the library loader (no silent fallback to the built-in descriptor)
    assert type(app_loader(runs["multitask"])) is type(embedder)
    # a checkpoint file works as well as its run folder
    assert load_embedder(runs["multitask"] / "checkpoints" / "last.pt").size == SIZE
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        embedder.embed([crops[0].astype(np.float32)])
    # what the app ranks with: the mean of four quarter-turn views, so a vehicle seen at another
    # heading (a quarter turn more) gets the same descriptor
    four = load_embedder(runs["multitask"])
    assert four.rotations == 4
    views = [embedder.embed([np.ascontiguousarray(np.rot90(c, k)) for c in crops]) for k in range(4)]
    mean = np.mean([v / np.linalg.norm(v, axis=1, keepdims=True) for v in views], axis=0)
    np.testing.assert_allclose(four.embed(crops), mean, rtol=0, atol=1e-5)
    turned = [np.ascontiguousarray(np.rot90(c)) for c in crops]
    np.testing.assert_allclose(four.embed(turned), four.embed(crops), rtol=0, atol=1e-5)
    assert not np.allclose(embedder.embed(turned), embedder.embed(crops), atol=1e-3)  # one view is not invariant


def test_broken_runs_give_one_line_reasons(runs: dict[str, Path], tmp_path: Path) -> None:
    from annotator.attributes.assist import AssistError, load_predictor
    from annotator.matching.model import ModelUnavailable, load_embedder
    from reid.engine.embed import find_checkpoint

    (tmp_path / "empty").mkdir()
    no_ckpt = tmp_path / "no-ckpt"
    no_ckpt.mkdir()
    shutil.copy(runs["triplet"] / "config.json", no_ckpt / "config.json")
    cases = {tmp_path / "missing": "no such training run", tmp_path / "empty": "not a training run",
             no_ckpt: "has no checkpoint yet"}
    for run, reason in cases.items():
        with pytest.raises(ModelUnavailable, match=reason) as e:
            load_embedder(run)
        assert "\n" not in str(e.value)
    with pytest.raises(AssistError, match="has no checkpoint yet"):
        load_predictor(no_ckpt)
    (no_ckpt / "checkpoints").mkdir()
    for name in ("last.pt", "best.pt"):
        (no_ckpt / "checkpoints" / name).write_bytes(b"")
    assert find_checkpoint(no_ckpt).name == "best.pt"


def test_load_samples_says_where_unknown_keys_came_from(runs: dict[str, Path]) -> None:
    from reid.detection.data import load_samples

    with pytest.raises(VraiToolsError, match="instance 'p1-A:999' is listed in this pair but does not exist"):
        load_samples(runs["parts-data"], ["p1-A:0", "p1-A:999"], include_todo=True, source="this pair")


# ----------------------------------------------------------------------------- stage 2


def _expected_scores(root: Path, ctx, run: Path, query: list[str], cands: dict[str, list[str]]):
    """The ranking by the run's embedding of each tracklet's tight crops, computed apart from the app."""
    from annotator.matching.model import embed_tracklet, load_embedder

    embedder = load_embedder(run)
    store = ap.InstanceStore(DatasetRoot(root), ctx.clips.values(), ctx.instances)

    def frame_of(key: str) -> tuple[str, tuple[int, int]]:
        where = (key.rpartition(":")[0], ctx.instances[key].frame)
        return store.frames[where], store.frame_size[where]

    def emb(keys: list[str]) -> np.ndarray:
        chosen = ap.representative(keys, ctx.instances, store.size[keys[0].rpartition(":")[0]])
        return embed_tracklet(embedder, _tight_crops(root, chosen, ctx.instances, frame_of))

    return ap.cosine_rank(emb(query), {tid: emb(keys) for tid, keys in cands.items()})


def test_matching_service_ranks_with_the_model_on_tight_crops(qtbot, runs: dict[str, Path], tmp_path: Path) -> None:
    from annotator.matching.document import MatchingDocument
    from annotator.matching.ranking import AppearanceService

    data = make_pair_dataset(tmp_path / "ds")
    doc = MatchingDocument.load(data.ds, data.ds.manifest(), MATCH_PAIR, "tester")
    service = AppearanceService(data.ds, doc.ctx, runs["multitask"])
    messages: list[str] = []
    service.message.connect(messages.append)
    query = doc.next_undecided("A")
    cands = {c.tracklet: list(doc.tracklet(c.tracklet).instances) for c in doc.candidates(query, 60.0)
             if c.excluded is None}
    qkeys = list(doc.tracklet(query).instances)
    assert len(cands) >= 2
    with qtbot.waitSignal(service.ranked, timeout=30000) as got:
        service.rank(1, query, qkeys, cands)
    service.close()
    gen, q, scores = got.args
    assert (gen, q) == (1, query)
    assert any(m.startswith("ranking with ReID model") and "last.pt" in m for m in messages), messages
    assert service.uses_model and service.describe_mode().startswith("ReID model")
    expected = _expected_scores(data.root, doc.ctx, runs["multitask"], qkeys, cands)
    assert [t for t, _ in scores] == [t for t, _ in expected]
    assert [s for _, s in scores] == pytest.approx([s for _, s in expected], abs=1e-6)
    # the display crops keep their margin; the model's are the tight training boxes
    key = qkeys[0]
    display, tight = service.store.crop(key), service.store.model_crop(key)
    x0, y0, x1, y1 = pixel_box(doc.ctx.instances[key].bbox, service.store.size[key.rpartition(":")[0]])
    assert tight.shape[:2] == (y1 - y0, x1 - x0) and display.shape[0] > tight.shape[0]


@pytest.mark.gui
def test_the_matching_window_ranks_with_the_model(qtbot, monkeypatch, annotator_env, said,  # noqa: F811
                                                  runs: dict[str, Path], tmp_path: Path) -> None:
    data = make_pair_dataset(tmp_path / "ds")
    window = open_stage_window(qtbot, monkeypatch, data.root, "matching", "--model", str(runs["multitask"]),
                               pair=MATCH_PAIR)
    view = window.views["matching"]
    qtbot.waitUntil(lambda: view.ranked is not None, timeout=30000)
    service = view.service
    assert service._embedder is not None and not service._model_failed
    assert "ReID model multitask" in view.mode_label.text()
    assert any(m.startswith("ranking with ReID model") for m in said), said
    pickable = {t: list(view.doc.tracklet(t).instances) for t in view.ranked if view.cands[t].excluded is None}
    expected = _expected_scores(data.root, view.doc.ctx, runs["multitask"], list(view.doc.tracklet(view.query).instances),
                                pickable)
    assert [t for t in view.ranked if t in pickable] == [t for t, _ in expected]
    window.close()


# ----------------------------------------------------------------------------- stage 3


@pytest.mark.gui
def test_attributes_stage_shows_model_proposals_and_enter_accepts(qtbot, monkeypatch, annotator_env,  # noqa: F811
                                                                  said, runs: dict[str, Path],
                                                                  pair_root: Path) -> None:  # noqa: F811
    from annotator.attributes.assist import aggregate, load_predictor
    from schemas import PairMatching
    from vrai_tools.storage import load_model

    window = open_stage_window(qtbot, monkeypatch, pair_root, "attributes", "--model", str(runs["multitask"]))
    view = window.views["attributes"]
    doc = view.doc
    qtbot.waitUntil(lambda: all(doc.proposal(g) is not None for g in doc.groups), timeout=30000)
    assert any(m.startswith(f"model proposals for {len(doc.groups)} vehicle(s)") for m in said), said
    g = view.controller.group
    proposal = doc.proposal(g)
    crops = _tight_crops(pair_root, g.keys, {k: doc.instance(k) for k in g.keys}, doc.frame_file)
    assert proposal == aggregate(load_predictor(runs["multitask"]).predict(crops))
    assert proposal.color is not None and proposal.type is not None and proposal.luggage_rack is not None
    press(qtbot, window, "Return")  # accept the proposal; the vehicle is complete, on to the next
    assert doc.base(g) == proposal and view.controller.group is not g
    window.save_now()
    saved = {v.id: v for v in load_model(pair_root / "matching" / f"{doc.pair_id}.json", PairMatching).vehicles}
    assert saved[g.vehicle_id].attributes == proposal
    window.close()


@pytest.mark.gui
def test_a_run_without_attribute_heads_says_so_in_one_line(qtbot, monkeypatch, annotator_env,  # noqa: F811
                                                           said, runs: dict[str, Path],
                                                           pair_root: Path) -> None:  # noqa: F811
    window = open_stage_window(qtbot, monkeypatch, pair_root, "attributes", "--model", str(runs["triplet"]))
    view = window.views["attributes"]
    qtbot.waitUntil(lambda: any(m.startswith("no model proposals") for m in said), timeout=30000)
    msg = next(m for m in said if m.startswith("no model proposals"))
    assert "\n" not in msg and "Traceback" not in msg
    assert "preset 'triplet'" in msg and "has no attribute heads" in msg and "'multitask'" in msg
    assert all(view.doc.proposal(g) is None for g in view.doc.groups)
    window.close()


# ----------------------------------------------------------------------------- stage 4


@pytest.mark.gui
def test_parts_stage_shows_proposals_of_a_detector_run(qtbot, monkeypatch, annotator_env,  # noqa: F811
                                                       said, runs: dict[str, Path],
                                                       pair_root: Path) -> None:  # noqa: F811
    from annotator.parts.proposals import load_proposals

    window = open_stage_window(qtbot, monkeypatch, pair_root, "parts", "--detector", str(runs["detector"]))
    view = window.views["parts"]
    view.wait_for_proposals()  # delivers the detector's answer (what the screenshot script relies on)
    assert any(m.startswith(("part proposals", "no part proposals")) for m in said), said
    assert not any(m.startswith("no part proposals") for m in said), said
    assert view.doc.proposal_count() > 0
    assert any(m.startswith("part proposals for 48 crop(s)") for m in said), said
    first = view.controller.key
    expected = load_proposals(DatasetRoot(pair_root), runs["detector"], view.doc.walk())[first]  # as the view asks
    got = view.doc.proposals(first)
    assert 1 <= len(got) <= 3  # the run's top_k
    assert [c for p in got for c in p.box] == pytest.approx([c for b, _ in expected for c in b], abs=1e-6)
    press(qtbot, window, "Return")  # accept them all, next crop
    assert len(view.doc.parts(first).boxes) == len(got) and view.controller.key != first
    window.close()
