"""Stages 3 (attributes) and 4 (discriminative parts): actions per instance, by an annotator who knows the truth.

Data: ``vrai-tools synth --annotate corners,matching --no-video`` (these stages read no
pixels without their views: the controllers work on the documents alone), with
``synth_truth.json`` as the annotator's eyes. Both stages are driven through their
controllers, the code the views' key and mouse handlers call (one controller call = one
key press, click or drag):

Stage 3 (``AttributesController``), vehicle by vehicle as the controller walks them: a
digit for the colour (row 1), a digit for the type (the row moves on by itself), a letter
(S/B/T/L) for each flag that is *yes*, Enter (unset flags become "no", next vehicle).
An instance that differs from its vehicle (``--differ``: a share of instances whose
truth is changed in one flag, as if hidden or seen differently) costs a click on its
crop and the letter: an override. Without vehicle-level labelling every instance would
cost the same keys as a vehicle (figure printed for comparison, computed, not driven).
Goal (issue): <= 0.3 actions per instance.

Stage 4 (``PartsController``), crop by crop in the controller's order: a drag per part
box, then Enter (next crop); N for a crop with no part. ``--proposals`` adds a second run
where each crop arrives with detector-like proposals simulated from the truth (each part
found with probability ``--recall``, corners jittered by ``--jitter`` of its size, a false
positive with probability ``--false-positives``): Enter accepts the proposals kept and goes
on, a wrong one is clicked and deleted (2 actions), a missed part is dragged.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/annotate_attributes_parts.py [--pairs 4 --seconds 60]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PyQt6.QtCore import QCoreApplication  # noqa: E402

from annotator.attributes.controller import AttributesController  # noqa: E402
from annotator.attributes.document import AttributesDocument  # noqa: E402
from annotator.parts.controller import PartsController, Selection  # noqa: E402
from annotator.parts.document import MIN_SIDE, PartsDocument  # noqa: E402
from schemas import COLORS, FLAGS, TYPES  # noqa: E402
from vrai_tools.dataset import DatasetRoot  # noqa: E402
from vrai_tools.synth import SynthConfig, generate, load_truth  # noqa: E402

Box = tuple[float, float, float, float]
LETTER = {"skylight": "S", "bumper": "B", "spare_tire": "T", "luggage_rack": "L"}


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# ----------------------------------------------------------------------------- stage 3


@dataclass
class AttrTally:
    vehicles: int = 0
    instances: int = 0
    digits: int = 0
    letters: int = 0
    enters: int = 0
    clicks: int = 0
    overrides: int = 0
    wrong: int = 0  # instances whose effective attributes differ from the truth afterwards
    per_instance_baseline: int = 0  # the same keys for every instance on its own
    disagreeing: int = 0

    @property
    def actions(self) -> int:
        return self.digits + self.letters + self.enters + self.clicks


def instance_truth(truth: dict[str, Any], differ: float, seed: int) -> dict[str, dict[str, Any]]:
    """Attributes each instance shows: its vehicle's, except a ``differ`` share with one flag flipped."""
    vehicles = {v["id"]: v["attributes"] for v in truth["vehicles"]}
    rnd = random.Random(seed)
    out = {}
    for clip in truth["clips"].values():
        for inst in clip["instances"]:
            a = dict(vehicles[inst["vehicle"]])
            if differ and rnd.random() < differ:
                f = rnd.choice(FLAGS)
                a[f] = not a[f]
            out[inst["key"]] = a
    return out


def stage3(root: DatasetRoot, pair_id: str, truth: dict[str, Any], shown: dict[str, dict[str, Any]],
           tally: AttrTally) -> None:
    doc = AttributesDocument.load(root, root.manifest(), pair_id, "benchmark")
    c = AttributesController(doc)
    vehicles = {v["id"]: v["attributes"] for v in truth["vehicles"]}
    seen: set[str] = set()
    while c.group is not None and c.group.id not in seen:
        g = c.group
        seen.add(g.id)
        assert g.vehicle_id is not None, f"{g.label}: stage 2 left it without a vehicle"
        want = vehicles[g.vehicle_id]
        tally.vehicles += 1
        tally.instances += len(g.keys)
        keys_for_one = 2 + sum(bool(want[f]) for f in FLAGS) + 1
        tally.per_instance_baseline += keys_for_one * len(g.keys)
        # the vehicle: colour digit, type digit (row 0 and 1 as the controller walks them), letters, later Enter
        assert c.field == "color"
        c.digit(COLORS.index(want["color"]) + 1)
        assert c.field == "type"
        c.digit(TYPES.index(want["type"]) + 1)
        tally.digits += 2
        for f in FLAGS:
            if want[f]:
                c.toggle(f)  # the flag's letter
                tally.letters += 1
        # instances that look different: click the crop, press the flag's letter (an override)
        for key in g.keys:
            for f in FLAGS:
                if shown[key][f] != want[f]:
                    if c.target != key:
                        c.select_crop(key)
                        tally.clicks += 1
                    c.toggle(f)
                    tally.letters += 1
                    tally.overrides += 1
        last = c.index
        c.accept()  # Enter: unset flags "no" (for the vehicle), next vehicle
        tally.enters += 1
        if c.index == last:  # the last vehicle (accept stays put)
            break
    # check against what the annotator saw
    for g in doc.groups:
        for key in g.keys:
            eff = doc.effective(key)
            tally.wrong += any(getattr(eff, f) != shown[key][f] for f in ("color", "type", *FLAGS))
    tally.disagreeing += len(doc.disagreeing())


# ----------------------------------------------------------------------------- stage 4


@dataclass
class PartsTally:
    instances: int = 0
    with_parts: int = 0
    parts: int = 0
    drags: int = 0
    enters: int = 0
    nones: int = 0
    clicks: int = 0
    deletes: int = 0
    accepted: int = 0
    refused: int = 0  # truth boxes the document refuses (under MIN_SIDE px inside the vehicle box)
    proposals: int = 0
    final_iou: list[float] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)

    @property
    def actions(self) -> int:
        return self.drags + self.enters + self.nones + self.clicks + self.deletes


def simulated_proposals(parts: dict[str, list[Box]], bbox: dict[str, Box], recall: float, jitter: float, fp: float,
                        seed: int) -> dict[str, list[tuple[Box, float]]]:
    rnd = random.Random(seed)
    out: dict[str, list[tuple[Box, float]]] = {}
    for key, boxes in parts.items():
        props = []
        for x1, y1, x2, y2 in boxes:
            if rnd.random() >= recall:
                continue
            w, h = x2 - x1, y2 - y1
            j = [rnd.uniform(-jitter, jitter) for _ in range(4)]
            props.append(((x1 + j[0] * w, y1 + j[1] * h, x2 + j[2] * w, y2 + j[3] * h), rnd.uniform(0.4, 0.99)))
        if rnd.random() < fp:
            bx1, by1, bx2, by2 = bbox[key]
            w, h = (bx2 - bx1) * rnd.uniform(0.1, 0.25), (by2 - by1) * rnd.uniform(0.1, 0.25)
            x, y = rnd.uniform(bx1, bx2 - w), rnd.uniform(by1, by2 - h)
            props.append(((x, y, x + w, y + h), rnd.uniform(0.25, 0.6)))
        out[key] = props
    return out


def stage4(root: DatasetRoot, pair_id: str, parts: dict[str, list[Box]], bbox: dict[str, Box],
           proposals: dict[str, list[tuple[Box, float]]] | None, tally: PartsTally) -> None:
    doc = PartsDocument.load(root, root.manifest(), pair_id, "benchmark")
    if proposals is not None:
        doc.set_proposals({k: v for k, v in proposals.items() if k in set(doc.walk())})
        tally.proposals += doc.proposal_count()
    c = PartsController(doc)
    done: set[str] = set()
    while c.key is not None and c.key not in done:
        key = c.key
        done.add(key)
        t0 = time.perf_counter()
        todo = [b for b in parts.get(key, [])]
        tally.instances += 1
        tally.parts += len(todo)
        tally.with_parts += bool(todo)
        # proposals: keep those that hit a part (IoU >= 0.5, the paper's), delete the others; on a crop
        # without any part, N alone answers (and rejects every proposal)
        for p in sorted(doc.proposals(key), key=lambda p: -p.score) if todo else ():
            best = max(((iou(p.box, b), i) for i, b in enumerate(todo)), default=(0.0, -1))
            if best[0] >= 0.5:
                todo.pop(best[1])
                tally.accepted += 1
            else:
                c.select(Selection("proposal", p.id))  # click it
                c.delete_selected()  # Del
                tally.clicks += 1
                tally.deletes += 1
        drawable = []
        for b in todo:
            try:
                doc.check_box(key, b)
                drawable.append(b)
            except Exception:
                tally.refused += 1
        for b in drawable:
            c.draw_box(b)  # one drag
            tally.drags += 1
        last = c.position
        if not parts.get(key) or (doc.parts(key).state == "todo" and not doc.proposals(key)):
            c.mark_none()  # N: nothing discriminative, next crop
            tally.nones += 1
        else:
            c.accept()  # Enter: accept the proposals kept, next crop
            tally.enters += 1
        tally.ms.append(1000 * (time.perf_counter() - t0))
        got = doc.parts(key)
        assert got.state != "todo", key
        for b in parts.get(key, []):
            tally.final_iou.append(max((iou(b, x) for x in got.boxes), default=0.0))
        if c.position == last:
            break


# ----------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", type=int, default=2)
    p.add_argument("--vehicles", type=int, default=30, help="vehicles per pair")
    p.add_argument("--seconds", type=float, default=30.0, help="clip length (a frame every 0.5 s)")
    p.add_argument("--resolution", default="1280x720")
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--differ", type=float, default=0.02,
                   help="share of instances that look different from their vehicle in one flag")
    p.add_argument("--proposals", action=argparse.BooleanOptionalAction, default=True,
                   help="also run stage 4 with simulated detector proposals")
    p.add_argument("--recall", type=float, default=0.8)
    p.add_argument("--jitter", type=float, default=0.1)
    p.add_argument("--false-positives", type=float, default=0.2, help="chance of one false proposal per crop")
    args = p.parse_args()
    w, h = (int(v) for v in args.resolution.split("x"))
    _app = QCoreApplication.instance() or QCoreApplication([])
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "ds"
        t0 = time.perf_counter()
        generate(data, SynthConfig(pairs=args.pairs, vehicles_per_pair=args.vehicles, seconds=args.seconds, width=w,
                                   height=h, seed=args.seed, annotate=frozenset({"corners", "matching"}), video=False))
        made = time.perf_counter() - t0
        truth = load_truth(data)
        insts = [i for c in truth["clips"].values() for i in c["instances"]]
        parts = {i["key"]: [tuple(b) for b in i["parts"]] for i in insts}
        bbox = {i["key"]: tuple(i["bbox"]) for i in insts}
        root = DatasetRoot(data)
        pairs = [pr.id for pr in root.manifest().pairs]
        print(f"data: vrai-tools synth --annotate corners,matching --no-video, {args.pairs} pair(s) x "
              f"{args.vehicles} vehicles, {args.seconds:g} s clips {w}x{h}, seed {args.seed}: {len(insts)} instances "
              f"of {len(truth['vehicles'])} vehicles ({len(insts) / max(len(truth['vehicles']), 1):.1f} per vehicle); "
              f"made in {made:.0f} s; {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}")

        # stage 3
        shown = instance_truth(truth, args.differ, args.seed)
        n_diff = sum(1 for i in insts for f in FLAGS
                     if shown[i["key"]][f] != next(v for v in truth["vehicles"] if v["id"] == i["vehicle"])["attributes"][f])
        a = AttrTally()
        t0 = time.perf_counter()
        work = Path(tmp) / "s3"
        shutil.copytree(data, work)
        for pid in pairs:
            stage3(DatasetRoot(work), pid, truth, shown, a)
        s3 = time.perf_counter() - t0

        # stage 4
        runs: dict[str, tuple[PartsTally, float]] = {}
        for label, props in (("drawn by hand", None),
                             ("with proposals", simulated_proposals(parts, bbox, args.recall, args.jitter,
                                                                    args.false_positives, args.seed))):
            if props is not None and not args.proposals:
                continue
            work = Path(tmp) / f"s4-{len(runs)}"
            shutil.copytree(data, work)
            t = PartsTally()
            t0 = time.perf_counter()
            for pid in pairs:
                stage4(DatasetRoot(work), pid, parts, bbox, props, t)
            runs[label] = (t, time.perf_counter() - t0)

    print()
    print(f"stage 3 (attributes), {a.vehicles} vehicles, {a.instances} instances, {n_diff} instance flag(s) "
          f"differing from the vehicle (--differ {args.differ:g}):")
    print(f"  {'actions':>8}{'per inst.':>10}{'per veh.':>9}{'digits':>8}{'letters':>8}{'Enter':>7}{'clicks':>7}"
          f"{'overrides':>10}{'wrong':>7}{'run s':>7}")
    print(f"  {a.actions:>8}{a.actions / max(a.instances, 1):>10.3f}{a.actions / max(a.vehicles, 1):>9.2f}"
          f"{a.digits:>8}{a.letters:>8}{a.enters:>7}{a.clicks:>7}{a.overrides:>10}{a.wrong:>7}{s3:>7.1f}")
    print(f"  vehicles left flagged 'instances disagree' (for review): {a.disagreeing}")
    print(f"  without vehicle-level labelling (the same keys for every instance, computed): "
          f"{a.per_instance_baseline / max(a.instances, 1):.2f} actions per instance")
    goal3 = a.actions / max(a.instances, 1)
    print(f"  goal <= 0.3 actions per instance: {'met' if goal3 <= 0.3 else 'NOT met'} ({goal3:.3f})")
    print()
    print(f"stage 4 (parts): {sum(len(v) for v in parts.values())} part boxes in truth on "
          f"{sum(1 for v in parts.values() if v)} of {len(parts)} instances")
    print(f"  {'mode':<16}{'actions':>8}{'per inst.':>10}{'drags':>7}{'Enter':>7}{'N':>6}{'clicks':>7}{'Del':>5}"
          f"{'accepted':>9}{'refused':>8}{'box IoU':>8}{'ms/crop':>8}{'run s':>7}")
    for label, (t, spent) in runs.items():
        print(f"  {label:<16}{t.actions:>8}{t.actions / max(t.instances, 1):>10.2f}{t.drags:>7}{t.enters:>7}"
              f"{t.nones:>6}{t.clicks:>7}{t.deletes:>5}{t.accepted:>9}{t.refused:>8}"
              f"{statistics.mean(t.final_iou) if t.final_iou else float('nan'):>8.3f}"
              f"{statistics.median(t.ms):>8.1f}{spent:>7.1f}")
    if args.proposals and "with proposals" in runs:
        t = runs["with proposals"][0]
        print(f"  proposals simulated from the truth: {t.proposals} (recall {args.recall:g}, jitter ±{args.jitter:.0%}, "
              f"false positive on {args.false_positives:.0%} of crops); not the trained detector")
    t = runs["drawn by hand"][0]
    print(f"  minimum by hand = one drag per part + one key per crop: "
          f"{(t.parts + t.instances) / max(t.instances, 1):.2f} per instance; 'refused': truth boxes under "
          f"{MIN_SIDE:g} px inside the vehicle box, which the document will not take")
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
