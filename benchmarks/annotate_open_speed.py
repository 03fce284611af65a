"""vrai-annotate speed on a big clip: open it, move to the next frame, autosave.

A 360-frame clip (3 minutes sampled every 0.5 s) of 1920x1080 JPEGs with 20 vehicles
per frame (about 7,000 instances), opened in the real main window (offscreen):

- open: lock + load + validate + build the document and the stage view (goal < 1 s);
- first frame visible: decoded off the UI thread;
- next frame (D) until its pixels are on the canvas (goal < 50 ms), at an annotator's
  pace (one frame every 0.3 s, so prefetch can work) and with D held down; once on a
  finished clip (review) and once on a clip being annotated (carry-over tracking 20
  vehicles runs in the background on every new frame);
- autosave: the UI-thread snapshot and the worker's write of the whole clip file.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/annotate_open_speed.py [--frames 360]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PyQt6.QtTest import QTest  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from annotator.app import create_window, parse_args  # noqa: E402
from annotator.autosave import write_snapshots  # noqa: E402
from annotator.settings import CONFIG_DIR_ENV  # noqa: E402
from schemas import ClipAnnotations, Instance, Manifest, Provenance  # noqa: E402
from tests.annotator_fixtures import make_clip_dataset  # noqa: E402
from vrai_tools.dataset import DatasetRoot  # noqa: E402
from vrai_tools.storage import load_model  # noqa: E402


def build(root: Path, frames: int, vehicles: int, size: tuple[int, int]) -> None:
    """Clip p1-A: every frame annotated and done (review); p1-B: the same frames, odd ones still to do.

    The synthetic traffic keeps about 3/4 of its cars on screen, hence 4/3 as many cars.
    """
    clip = make_clip_dataset(root, frames=frames, vehicles=round(vehicles * 4 / 3), size=size, seed=0,
                             with_camera_b=False)
    ds = DatasetRoot(root)
    manifest = ds.manifest()
    b = manifest.clips[0].model_copy(update={"id": "p1-B", "camera": "B"})
    ds.save_manifest(Manifest(**{**manifest.model_dump(), "clips": [manifest.clips[0].model_dump(), b.model_dump()]}))
    prov = {"corners": Provenance(annotator="bench", at="2024-01-01T00:00:00Z", seconds=2.0)}
    for cid, keep in (("p1-A", lambda k: True), ("p1-B", lambda k: k % 2 == 0)):
        insts = [Instance.from_corners(f"{cid}:{n}", k, corners, provenance=prov)
                 for n, (k, corners) in enumerate((k, c) for k, v in clip.truth.items() if keep(k) for _, c in v)]
        done = list(range(frames)) if cid == "p1-A" else []
        ds.save_annotations(ClipAnnotations(clip_id=cid, image_size=size, instances=insts, frames_done=done))


def spin(cond, timeout: float = 10.0) -> None:
    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            raise TimeoutError
        QTest.qWait(1)  # sleeps between event checks: a busy loop would starve the workers


def stats(ms: list[float]) -> str:
    ms = sorted(ms)
    return (f"median {statistics.median(ms):6.1f} ms   p95 {ms[int(0.95 * (len(ms) - 1))]:6.1f} ms   "
            f"max {ms[-1]:6.1f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=360)
    p.add_argument("--vehicles", type=int, default=20)
    p.add_argument("--resolution", default="1920x1080")
    p.add_argument("--steps", type=int, default=40, help="frames stepped through per measurement")
    args = p.parse_args()
    size = tuple(int(v) for v in args.resolution.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[CONFIG_DIR_ENV] = str(Path(tmp) / "config")
        root = Path(tmp) / "ds"
        t0 = time.perf_counter()
        build(root, args.frames, args.vehicles, size)  # type: ignore[arg-type]
        n_inst = len(load_model(root / "annotations" / "p1-A.json", ClipAnnotations).instances)
        print(f"clip: {args.frames} frames {size[0]}x{size[1]}, {n_inst} instances "
              f"({n_inst / args.frames:.1f} per frame; made in {time.perf_counter() - t0:.0f} s)")
        print(f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f} (other work slows every figure)\n")
        _app = QApplication.instance() or QApplication([])  # alive for the whole run
        t0 = time.perf_counter()
        window = create_window(parse_args([str(root), "--annotator", "bench", "--clip", "p1-A"])[0])
        print(f"`vrai-annotate ROOT --clip p1-A` (finished clip): window and clip open in "
              f"{1000 * (time.perf_counter() - t0):.1f} ms   (goal < 1000 ms)\n")
        window.close()
        window = create_window(parse_args([str(root), "--annotator", "bench"])[0])
        window.show()
        spin(lambda: not window.overview.loading)  # a person picks a clip once the overview has read the progress
        for clip_id, label in (("p1-A", "finished clip (review)"), ("p1-B", "clip being annotated (carry-over on)")):
            t0 = time.perf_counter()
            assert window.open_target("corners", clip_id)
            opened = time.perf_counter() - t0
            view = window.views["corners"]
            c = view.controller
            c.goto_position(0)
            spin(lambda: view.shown_frame == c.frame)
            first = time.perf_counter() - t0
            print(f"{label}:")
            print(f"  open (lock, load, validate, document, view): {1000 * opened:7.1f} ms   (goal < 1000 ms)")
            print(f"  first frame visible:                         {1000 * first:7.1f} ms")
            action = window.action("corners.next_frame")
            for paced in (True, False):
                times = []
                for _ in range(args.steps):
                    if paced:
                        QTest.qWait(300)
                    target = c.position + 1
                    t0 = time.perf_counter()
                    action.trigger()
                    spin(lambda: view.shown_frame == c.doc.frame_indices[target])
                    times.append(1000 * (time.perf_counter() - t0))
                    if c.busy:  # carry-over runs on; it must not hold the next frame back
                        spin(lambda: not c.busy)
                what = "next frame, one every 0.3 s" if paced else "next frame, D held down   "
                print(f"  {what}: {stats(times)}   (goal < 50 ms)")
            doc = window.doc
            t0 = time.perf_counter()
            items = doc.snapshots()
            snap = time.perf_counter() - t0
            t0 = time.perf_counter()
            write_snapshots(items)
            write = time.perf_counter() - t0
            print(f"  autosave: snapshot on the UI thread {1000 * snap:.2f} ms, write in the worker {1000 * write:.0f} ms\n")
        window.close()


if __name__ == "__main__":
    main()
