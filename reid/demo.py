"""``vrai-tools demo``: the whole pipeline end to end on a small synthetic dataset, on a CPU.

synth (two-drone clip pairs with ground truth) -> split -> crops -> [multitask+dp: train
the part detector -> detect parts] -> train a ResNet-18 ReID model -> evaluate the
untrained model (the run's own starting weights, ``checkpoint init``) and the trained one
-> one table with both side by side, and where the report and plots are.

``OUT/`` holds everything::

    OUT/demo.json        the settings and the stages finished so far
    OUT/dataset/         the synthetic dataset (+ splits/demo.json, crops/s<size>/)
    OUT/detector/        multitask+dp: the part detector's run (`vrai-tools train-detector`)
    OUT/parts-demo.json  multitask+dp: its detections (`vrai-tools detect-parts`)
    OUT/run/             the ReID run (config, checkpoints, evaluations, plots, report.md)
    OUT/summary.md       the table printed at the end

Re-running with the same ``OUT`` and the same settings resumes: finished stages are
reused (and say so), an interrupted training continues from its last checkpoint. The
same ``OUT`` with other settings, or a folder that is not a demo's, is refused: nothing
of it is overwritten. Delete ``OUT`` to start over.

Sizes (:data:`FULL`): 4 pairs x 14 vehicles, 16 s clips sampled every second -> about 310
training images of 24 vehicles and 330 test images of 25 others; 8 epochs at 128 px take
about 3 of the demo's 4 minutes on a 2-core CPU and lift mAP from about 24 % (untrained)
to about 63 %. :data:`QUICK` (``--quick``, the tests) is a third of that at 64 px.
Torch gets the CPU threads the load average leaves free (:func:`auto_threads`).
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from schemas import ReidMetrics
from vrai_tools.errors import VraiToolsError
from vrai_tools.progress import progress
from vrai_tools.storage import atomic_write_text, load_model

__all__ = ["DemoError", "DemoResult", "DemoScale", "DemoSettings", "FULL", "QUICK", "run_demo"]

DEMO_VERSION = 1
SPLIT = "demo"
Echo = Callable[[str], None]


class DemoError(VraiToolsError):
    pass


@dataclass(frozen=True)
class DemoScale:
    """How big the demo is. ``FULL``: a few minutes on a 2-core laptop; ``QUICK``: the tests'."""

    pairs: int
    vehicles_per_pair: int
    seconds: float
    width: int
    height: int
    fps: float
    every: float
    size: int  # ReID input (px), also the crops variant
    epochs: int
    batch_p: int
    batch_k: int
    detector_size: int
    detector_epochs: int
    detector_train_images: int
    detector_test_images: int
    eval_every: int | None = None  # also evaluate during training (the mAP curve of plots/training.png)


FULL = DemoScale(pairs=4, vehicles_per_pair=14, seconds=16, width=960, height=540, fps=10, every=1.0, size=128,
                 epochs=8, batch_p=8, batch_k=4, detector_size=128, detector_epochs=4, detector_train_images=240,
                 detector_test_images=80, eval_every=2)
QUICK = DemoScale(pairs=3, vehicles_per_pair=12, seconds=10, width=640, height=360, fps=5, every=1.0, size=64,
                  epochs=3, batch_p=6, batch_k=3, detector_size=96, detector_epochs=2, detector_train_images=80,
                  detector_test_images=30)


@dataclass(frozen=True)
class DemoSettings:
    preset: str = "multitask"
    epochs: int | None = None  # None: the scale's
    quick: bool = False
    seed: int = 0

    @property
    def scale(self) -> DemoScale:
        s = QUICK if self.quick else FULL
        if self.epochs is not None:
            s = DemoScale(**{**asdict(s), "epochs": self.epochs})
        return s

    @property
    def uses_parts(self) -> bool:
        from .presets import get_preset

        return get_preset(self.preset).uses_parts

    def to_json(self) -> dict[str, Any]:
        return {"preset": self.preset, "quick": self.quick, "seed": self.seed, "scale": asdict(self.scale)}


@dataclass
class DemoResult:
    out: Path
    columns: list[tuple[str, ReidMetrics]]
    untrained: ReidMetrics
    trained: ReidMetrics
    table: str
    summary: Path
    report: Path
    plots: list[Path] = field(default_factory=list)
    parts: str = "none"
    seconds: float = 0.0


# ----------------------------------------------------------------------------- the folder


class _State:
    """``OUT/demo.json``: settings and finished stages, rewritten atomically after each stage."""

    def __init__(self, out: Path, settings: DemoSettings) -> None:
        self.out = out
        self.path = out / "demo.json"
        self.settings = settings.to_json()
        self.done: dict[str, Any] = {}

    def open(self) -> bool:
        """True when an earlier demo in ``out`` is continued; raises when ``out`` is not ours to write."""
        if self.path.is_file():
            try:
                doc = json.loads(self.path.read_text())
                saved, done = doc["settings"], doc["done"]
                if doc.get("version") != DEMO_VERSION or not isinstance(done, dict):
                    raise ValueError
            except (OSError, ValueError, KeyError, TypeError):
                raise DemoError(f"{self.path}: not a demo state file this version can continue; delete {self.out} "
                                "or choose another --out") from None
            if saved != self.settings:
                diff = _differences(saved, self.settings)
                raise DemoError(f"--out {self.out} holds a demo made with other settings ({diff}); rerun with "
                                f"those, delete {self.out}, or choose another --out")
            self.done = done
            return True
        if self.out.exists() and (not self.out.is_dir() or any(self.out.iterdir())):
            raise DemoError(f"--out {self.out} exists and is not a demo folder (no demo.json); choose a new or "
                            "empty folder")
        self.out.mkdir(parents=True, exist_ok=True)
        self.save()
        return False

    def save(self) -> None:
        doc = {"version": DEMO_VERSION, "settings": self.settings, "done": self.done}
        atomic_write_text(self.path, json.dumps(doc, indent=1, sort_keys=True) + "\n")

    def mark(self, stage: str, info: Any = True) -> None:
        self.done[stage] = info
        self.save()


def _differences(a: dict[str, Any], b: dict[str, Any]) -> str:
    flat_a = {**{k: v for k, v in a.items() if k != "scale"}, **a.get("scale", {})}
    flat_b = {**{k: v for k, v in b.items() if k != "scale"}, **b.get("scale", {})}
    diff = [f"{k} {flat_a.get(k)!r}, now {flat_b.get(k)!r}" for k in sorted(set(flat_a) | set(flat_b))
            if flat_a.get(k) != flat_b.get(k)]
    return "; ".join(diff[:4]) + (" ..." if len(diff) > 4 else "")


# ----------------------------------------------------------------------------- the stages


def auto_threads() -> int:
    """CPU threads for torch: the cores the 1-minute load average leaves free (at least 1).

    On a shared machine, OpenMP threads that wait for a busy core spin instead of working:
    two threads on two half-busy cores train several times slower than one.
    """
    import os

    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, round(cores - busy)))


def run_demo(out: Path | str, settings: DemoSettings | None = None, *, echo: Echo | None = None,
             quiet: bool = False, threads: int | None = None) -> DemoResult:
    """Run (or continue) the demo in ``out``; see the module doc. ``quiet`` hides progress bars;
    ``threads``: torch CPU threads (None: :func:`auto_threads`)."""
    import torch

    settings = settings or DemoSettings()
    say: Echo = echo or (lambda _t: None)
    out = Path(out)
    started = time.perf_counter()
    state = _State(out, settings)
    uses_parts = settings.uses_parts  # also checks the preset name, before anything is written
    continued = state.open()
    scale = settings.scale
    stages = ["synth", "split", "crops", *(["train-detector", "detect-parts"] if uses_parts else []), "train",
              "evaluate"]
    step = iter(range(1, len(stages) + 1))

    def header(text: str) -> None:
        say(f"\n[{next(step)}/{len(stages)}] {text}")

    cuda = torch.cuda.is_available()
    if not cuda:
        torch.set_num_threads(threads or auto_threads())
    say(f"vrai-tools demo: preset {settings.preset}, ResNet-18 at {scale.size} px, {scale.epochs} epochs on "
        + ("CUDA" if cuda else f"the CPU ({torch.get_num_threads()} thread(s))") + f" -> {out}"
        + (" (continuing the demo already there)" if continued else ""))
    data = out / "dataset"

    header(f"synth: {scale.pairs} location pairs x 2 drones, {scale.vehicles_per_pair} vehicles per pair, "
           f"{scale.seconds:g} s clips at {scale.width}x{scale.height}")
    if "synth" in state.done:
        say(f"  reusing {data}")
    else:
        _synth(data, scale, settings.seed, say, quiet)
        state.mark("synth")

    header(f"split '{SPLIT}' (paper §5.1 protocol, seed {settings.seed})")
    if "split" in state.done:
        say(f"  reusing {data / 'splits' / (SPLIT + '.json')}")
    else:
        _split(data, settings.seed, say)
        state.mark("split")

    header(f"crops at {scale.size} px")
    from vrai_tools.crops import make_crops

    rep = make_crops(data, scale.size, workers=1, quiet=quiet)
    if rep.problems:
        raise DemoError(f"crops: {rep.problems[0]}")
    say(f"  {rep.folder}: {rep.written} written, {rep.skipped} up to date")

    parts_file: Path | None = None
    parts_label = "none"
    if uses_parts:
        header(f"train the part detector (FCOS, ResNet-18, {scale.detector_size} px, {scale.detector_epochs} epochs)")
        _train_detector(data, out / "detector", scale, settings.seed, state, say, quiet)
        header("detect parts: the top-3 boxes per instance, conf 0.25, NMS 0.4")
        parts_file = out / f"parts-{SPLIT}.json"
        parts_label = _detect(data, out / "detector", parts_file, state, say, quiet)

    header(f"train ReID: {settings.preset}, ResNet-18 at {scale.size} px, {scale.epochs} epochs")
    run = out / "run"
    _train_reid(data, run, settings, parts_file, state, say, quiet)

    header("evaluate the untrained model (the run's own starting weights) and the trained one")
    columns = _evaluate(data, run, uses_parts, state, say)

    from .reports.tables import side_by_side_table

    table = side_by_side_table(columns)
    untrained, trained = columns[0][1], columns[1][1]
    summary = out / "summary.md"
    from .runs import RunDir

    rd = RunDir(run)
    plots = sorted(rd.plots.glob("*.png"))
    where = (f"Dataset `{data}` (split `{SPLIT}`: {untrained.num_query} queries, {untrained.num_gallery} gallery "
             f"images), run `{run}`; part boxes for the weighted feature: {parts_label}.")
    atomic_write_text(summary, f"# vrai-tools demo ({settings.preset})\n\n{where}\n\n{table}\n"
                               f"Report: `{rd.report}`; plots: `{rd.plots}/`.\n")
    result = DemoResult(out, columns, untrained, trained, table, summary, rd.report, plots, parts_label,
                        time.perf_counter() - started)
    return result


def _ticks(quiet: bool) -> Callable[[Iterator[None], int, str], None]:
    def bar(ticks: Iterator[None], total: int, label: str) -> None:
        for _ in progress(ticks, f"  {label}", quiet=quiet, length=total or None):
            pass

    return bar


def _synth(data: Path, scale: DemoScale, seed: int, say: Echo, quiet: bool) -> None:
    from vrai_tools.synth import SynthConfig, run

    cfg = SynthConfig(pairs=scale.pairs, vehicles_per_pair=scale.vehicles_per_pair, seconds=scale.seconds, seed=seed,
                      width=scale.width, height=scale.height, fps=scale.fps, every=scale.every, name="vrai-demo")
    report = run(data, cfg, progress=_ticks(quiet))
    say(f"  {data}: {report.clips} clips, {report.frames} frames, {report.instances} instances of "
        f"{report.vehicles} vehicles ({report.cross_camera} seen by both cameras), {report.seconds:.0f} s")


def _split(data: Path, seed: int, say: Echo) -> None:
    from vrai_tools.dataset import DatasetRoot
    from vrai_tools.index import load_index
    from vrai_tools.split import make_split, summarise, write_split

    ds = DatasetRoot(data)
    index = load_index(ds)
    split = make_split(index, SPLIT, seed)
    write_split(ds, split, force=True)  # ours: written only before the stage is marked done
    for line in summarise(split, index).lines():
        say("  " + line)


def _train_detector(data: Path, run: Path, scale: DemoScale, seed: int, state: _State, say: Echo,
                    quiet: bool) -> None:
    from reid.detection.config import DetectorTrainConfig
    from reid.detection.evaluate import DetectionMetrics
    from reid.detection.train import train_detector

    if "train-detector" in state.done and (run / "metrics.json").is_file():
        m = load_model(run / "metrics.json", DetectionMetrics)
        say(f"  reusing {run}")
    else:
        resume = (run / "checkpoint.pt").is_file()
        if not resume and run.exists():
            shutil.rmtree(run)  # ours, and it never finished an epoch
        cfg = DetectorTrainConfig(root=str(data.resolve()), split=SPLIT, size=scale.detector_size, fpn_channels=64,
                                  epochs=scale.detector_epochs, batch_size=8, warmup_iters=20, workers=0, seed=seed,
                                  max_train_images=scale.detector_train_images,
                                  max_test_images=scale.detector_test_images, figure_samples=4)
        m = train_detector(cfg, run, resume=resume, quiet=quiet, log=lambda s: say("  " + s))
        state.mark("train-detector")
    say(f"  test crops: precision {100 * m.precision:.1f} %, recall {100 * m.recall:.1f} %, "
        f"F-score {100 * m.f_score:.1f} %, AP@0.5 {100 * m.ap50:.1f} % (paper §5.3 thresholds)")


def _detect(data: Path, detector: Path, parts_file: Path, state: _State, say: Echo, quiet: bool) -> str:
    from reid.detection.predict import detect_parts
    from schemas import PartDetections
    from vrai_tools.storage import save_model

    if "detect-parts" in state.done and parts_file.is_file():
        dets = load_model(parts_file, PartDetections)
        say(f"  reusing {parts_file}")
    else:
        dets = detect_parts(data, detector, split=SPLIT, batch_size=16, workers=0, quiet=quiet)
        save_model(parts_file, dets)
    n = len(dets.instances)
    with_boxes = sum(1 for v in dets.instances.values() if v)
    boxes = sum(len(v) for v in dets.instances.values())
    if boxes == 0:
        raise DemoError(f"{parts_file}: the part detector found no part in any of the {n} crops, so the weighted "
                        "feature would be the plain average; train the detector longer (delete "
                        f"{detector.parent} and rerun with more --epochs) or use --preset multitask")
    state.mark("detect-parts")
    label = f"detected ({parts_file.name}: {with_boxes} of {n} instances with a part, {boxes} boxes)"
    say(f"  {label}; the ReID model trains and is evaluated with these, not with the ground-truth parts")
    return label


def _train_reid(data: Path, run: Path, settings: DemoSettings, parts_file: Path | None, state: _State, say: Echo,
                quiet: bool) -> None:
    from .config import TrainConfig
    from .engine.fit import train
    from .runs import RunDir

    scale = settings.scale
    rd = RunDir(run)
    cfg = TrainConfig(root=str(data.resolve()), split=SPLIT, preset=settings.preset, backbone="resnet18",  # type: ignore[arg-type]
                      size=scale.size, epochs=scale.epochs, batch_p=scale.batch_p, batch_k=scale.batch_k,
                      parts="detected" if parts_file else "auto",
                      part_detections=str(parts_file.resolve()) if parts_file else None, seed=settings.seed,
                      workers=0, eval_every=scale.eval_every, crops=f"s{scale.size}", log_every=5)
    if "train" in state.done and rd.last.is_file():
        say(f"  reusing {run} (trained)")
        return
    resume = rd.last.is_file()
    if not resume and run.exists():
        shutil.rmtree(run)  # ours, and it never finished an epoch
    train(cfg, run, resume=resume, quiet=quiet, echo=lambda s: say("  " + s))
    state.mark("train")


def _evaluate(data: Path, run: Path, uses_parts: bool, state: _State, say: Echo) -> list[tuple[str, ReidMetrics]]:
    from .engine.evaluate import evaluate_run, evaluation_tag
    from .runs import RunDir

    rd = RunDir(run)
    feature = "weighted" if uses_parts else "avg"
    wanted = [("untrained", feature, "init"), ("trained", feature, "last")]
    if uses_parts:
        wanted.append(("trained", "avg", "last"))  # paper Table 4: the same model, plain average pooling
    columns: list[tuple[str, ReidMetrics]] = []
    done = state.done.get("evaluate", {})
    for label, feat, ckpt in wanted:
        tag = evaluation_tag(SPLIT, feat, "euclidean", 1.3 if feat == "weighted" else None, ckpt)
        path = rd.evaluation(tag)
        if tag in done and path.is_file():
            m = load_model(path, ReidMetrics)
            say(f"  reusing {path}")
        else:
            res = evaluate_run(data, SPLIT, run, feature=feat, checkpoint=ckpt, workers=0, samples=6,  # type: ignore[arg-type]
                               echo=lambda s: say("  " + s))
            assert res.metrics is not None
            m = res.metrics
            done = {**done, tag: True}
            state.mark("evaluate", done)
        epoch = int(m.extra.get("epoch", 0))
        columns.append((f"{label} ({'init' if ckpt == 'init' else f'epoch {epoch}'}{', ' + feat if uses_parts else ''})",
                        m))
    return columns
