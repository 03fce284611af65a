"""Stage 1 annotation cost: actions per vehicle with and without carry-over, and carry-over accuracy.

Acts as an annotator who knows the ground truth, driving the same controller the canvas
and keys drive (one controller call = one click, drag or key):

- without carry-over: 4 clicks per vehicle, then Enter (frame done, next frame);
- with carry-over: for each proposal, drag each corner that is off by more than the
  tolerance (1 action each) or, for a proposal matching no vehicle, select + Delete
  (2 actions); Enter accepts the rest; 4 clicks per vehicle not proposed; Enter again.

Goal: <= 1.2 actions per instance with carry-over. Data: ``vrai-tools synth`` (both
clips of each pair) when available, else the test suite's synthetic clip.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/annotate_stage1.py [--seconds 10]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PyQt6.QtTest import QTest  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from annotator.document import ClipDocument  # noqa: E402
from annotator.frame_cache import FrameCache  # noqa: E402
from annotator.stages.corners.controller import CornersController, Selection, box_iou  # noqa: E402
from vrai_tools.dataset import DatasetRoot  # noqa: E402

Corners = tuple[tuple[float, float], ...]
Truth = dict[str, dict[int, list[Corners]]]  # clip -> frame -> corners of every visible vehicle


def synth_dataset(out: Path, args: argparse.Namespace) -> tuple[Truth, str]:
    """``vrai-tools synth --annotate none``, or the tests' clip when synth is not installed."""
    try:
        try:
            from vrai_tools.synth import SynthConfig, generate  # type: ignore[attr-defined]
        except ImportError:
            from vrai_tools.synth.config import SynthConfig
            from vrai_tools.synth.generate import generate
        from vrai_tools.synth.truth import load_truth
    except ImportError:
        from tests.annotator_fixtures import make_clip_dataset

        clip = make_clip_dataset(out, frames=int(args.seconds / 0.5), vehicles=args.vehicles,
                                 size=(args.width, args.height), seed=args.seed, with_camera_b=False)
        return {clip.clip_id: {k: [c for _, c in v] for k, v in clip.truth.items()}}, "tests/annotator_fixtures.py"
    generate(out, SynthConfig(pairs=args.pairs, vehicles_per_pair=args.vehicles, seconds=args.seconds,
                              width=args.width, height=args.height, seed=args.seed, annotate=frozenset()))
    truth: Truth = {}
    for cid, clip in load_truth(out)["clips"].items():
        frames = truth.setdefault(cid, {})
        for inst in clip["instances"]:
            frames.setdefault(inst["frame"], []).append(tuple(tuple(p) for p in inst["corners"]))
    return truth, "vrai-tools synth"


@dataclass
class Tally:
    clicks: int = 0
    keys: int = 0
    drags: int = 0
    deletes: int = 0
    instances: int = 0
    proposal_iou: list[float] = field(default_factory=list)
    final_iou: list[float] = field(default_factory=list)
    carry_ms: list[float] = field(default_factory=list)

    @property
    def actions(self) -> int:
        return self.clicks + self.keys + self.drags


def wait(cond, timeout: float = 10.0) -> None:
    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            raise TimeoutError("carry-over did not finish")
        QTest.qWait(1)  # sleeps between event checks: a busy loop would starve the workers


def tolerance(corners: Corners, rel: float) -> float:
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    return max(1.5, rel * max(max(xs) - min(xs), max(ys) - min(ys)))


def annotate_clip(root: DatasetRoot, clip_id: str, truth: dict[int, list[Corners]],
                  carry: bool, rel_tol: float, tally: Tally) -> None:
    doc = ClipDocument.load(root, root.manifest(), clip_id, "benchmark")
    cache = FrameCache(root, doc.clip)
    c = CornersController(doc, cache)
    c.carry_enabled = carry
    for pos, frame in enumerate(doc.frame_indices):
        assert c.frame == frame
        t0 = time.perf_counter()
        wait(lambda: not c.busy)
        if carry and pos > 0:
            tally.carry_ms.append(1000 * (time.perf_counter() - t0))
        todo = list(truth.get(frame, []))
        # match proposals to the vehicles they show, best overlap first
        pairs = sorted(((box_iou(p.corners, t), p.id, i) for p in doc.proposals_on(frame)
                        for i, t in enumerate(todo)), reverse=True)
        matched: dict[int, int] = {}
        for score, pid, i in pairs:
            if score >= 0.3 and pid not in matched and i not in matched.values():
                matched[pid] = i
        for p in doc.proposals_on(frame):
            if p.id not in matched:
                c.select(Selection("proposal", p.id))
                c.delete_selected()
                tally.clicks += 1
                tally.keys += 1
                tally.deletes += 1
                continue
            target = todo[matched[p.id]]
            tally.proposal_iou.append(box_iou(p.corners, target))
            tol = tolerance(target, rel_tol)
            for k, (tx, ty) in enumerate(target):  # carried corners keep the clicking order
                x, y = doc.proposal(frame, p.id).corners[k]
                if abs(x - tx) > tol or abs(y - ty) > tol:
                    c.move_corner(Selection("proposal", p.id), k, tx, ty)
                    tally.drags += 1
        if doc.proposals_on(frame):
            c.select(None)
            c.accept()  # Enter: accept all
            tally.keys += 1
        for i in sorted(set(range(len(todo))) - set(matched.values())):
            for x, y in todo[i]:
                c.click(x, y)
                tally.clicks += 1
        tally.instances += len(todo)
        for inst in doc.instances_on(frame):
            tally.final_iou.append(max((box_iou(inst.corners, t) for t in todo), default=0.0))
        c.accept()  # Enter: frame done, next frame
        tally.keys += 1
    assert all(doc.is_done(f) for f in doc.frame_indices)
    c.close()
    cache.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", type=int, default=1)
    p.add_argument("--vehicles", type=int, default=12, help="vehicles per pair")
    p.add_argument("--seconds", type=float, default=10.0, help="clip length (a frame every 0.5 s)")
    p.add_argument("--resolution", default="960x540")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tolerance", type=float, default=0.05,
                   help="a corner within this share of the vehicle's size (min 1.5 px) needs no drag")
    args = p.parse_args()
    args.width, args.height = (int(v) for v in args.resolution.split("x"))
    _app = QApplication.instance() or QApplication([])  # alive for the whole run
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ds"
        truth, source = synth_dataset(out, args)
        frames = sum(len(f) for f in truth.values())
        instances = sum(len(v) for f in truth.values() for v in f.values())
        print(f"data: {source}, {args.width}x{args.height}, {len(truth)} clip(s), {frames} frames, "
              f"{instances} instances; corner tolerance {args.tolerance:.0%} of vehicle size (min 1.5 px); "
              f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}")
        results = {}
        for carry in (False, True):
            tally = Tally()
            for clip_id, clip_truth in sorted(truth.items()):
                work = Path(tmp) / f"copy-{carry}"
                if not work.exists():  # each mode starts from the same untouched dataset
                    import shutil

                    shutil.copytree(out, work)
                annotate_clip(DatasetRoot(work), clip_id, clip_truth, carry, args.tolerance, tally)
            results[carry] = tally
    print()
    print(f"{'mode':<16}{'actions':>9}{'per inst.':>11}{'clicks':>8}{'keys':>7}{'drags':>7}{'deletes':>9}"
          f"{'box IoU':>9}")
    for carry, t in results.items():
        print(f"{'carry-over' if carry else 'no carry-over':<16}{t.actions:>9}{t.actions / max(t.instances, 1):>11.2f}"
              f"{t.clicks:>8}{t.keys:>7}{t.drags:>7}{t.deletes:>9}{statistics.mean(t.final_iou):>9.3f}")
    t = results[True]
    if t.proposal_iou:
        ious = t.proposal_iou
        print(f"\ncarried proposals: {len(ious)}, IoU vs truth mean {statistics.mean(ious):.3f}, "
              f"median {statistics.median(ious):.3f}, >=0.9: {sum(i >= 0.9 for i in ious) / len(ious):.0%}, "
              f">=0.7: {sum(i >= 0.7 for i in ious) / len(ious):.0%}")
        ms = sorted(t.carry_ms)
        print(f"carry-over latency after moving to a frame: median {statistics.median(ms):.0f} ms, "
              f"max {ms[-1]:.0f} ms")
    goal = results[True].actions / max(results[True].instances, 1)
    print(f"\ngoal <= 1.2 actions per instance with carry-over: {'met' if goal <= 1.2 else 'NOT met'} ({goal:.2f})")


if __name__ == "__main__":
    main()
