"""The synthetic pictures agree with their labels, pixel by pixel.

The renderer is rebuilt from the seed (``clip_renderer``) and asked where it drew each
vehicle (``masks``): the labelled box must be the tight box of the drawn outline, every
part box must lie inside its vehicle, and the body paint outside the parts, with the
clip's light undone, must be nearer its labelled colour class than any other. The frames
checked are the JPEGs on disk, decoded by OpenCV, so compression and noise are included.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from schemas import COLORS
from vrai_tools.dataset import DatasetRoot
from vrai_tools.synth import SynthConfig, generate, load_truth
from vrai_tools.synth.pipeline import clip_renderer
from vrai_tools.synth.vehicles import COLOR_SHADES

CONFIG = SynthConfig(pairs=1, vehicles_per_pair=14, seconds=3, width=640, height=360, seed=3)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[DatasetRoot, dict]:
    root = generate(tmp_path_factory.mktemp("pictures") / "ds", CONFIG)
    return root, load_truth(root.root)


def _nearest_class(rgb: np.ndarray) -> str:
    best, name = np.inf, ""
    for cls, shades in COLOR_SHADES.items():
        d = min(float(np.linalg.norm(rgb - np.array(s, float))) for s in shades)
        if d < best:
            best, name = d, cls
    return name


def _checked_instances(data: tuple[DatasetRoot, dict]):
    """(instance truth, its mask, the decoded frame, the clip's look, time) for every labelled instance."""
    root, truth = data
    manifest = root.manifest()
    for clip in manifest.clips:
        renderer = clip_renderer(CONFIG, clip.id)
        look = truth["clips"][clip.id]["look"]
        by_frame: dict[int, list[dict]] = {}
        for inst in truth["clips"][clip.id]["instances"]:
            by_frame.setdefault(inst["frame"], []).append(inst)
        for frame in clip.frames:
            image = cv2.cvtColor(cv2.imread(str(root.path(frame.file))), cv2.COLOR_BGR2RGB)
            masks = {m.vehicle: m for m in renderer.masks(frame.video_frame)}
            for inst in by_frame.get(frame.index, []):
                yield inst, masks.get(inst["vehicle"]), image, look, frame.video_frame / clip.fps


def test_every_box_is_the_tight_box_of_the_drawn_vehicle(data: tuple[DatasetRoot, dict]) -> None:
    checked = 0
    for inst, mask, image, _look, _t in _checked_instances(data):
        assert mask is not None, f"{inst['key']}: labelled but not drawn"
        ys, xs = np.nonzero(mask.outline)
        h, w = image.shape[:2]
        x0, x1 = max(xs.min() + mask.x0, 0), min(xs.max() + mask.x0 + 1, w)
        y0, y1 = max(ys.min() + mask.y0, 0), min(ys.max() + mask.y0 + 1, h)
        bx0, by0, bx1, by1 = inst["bbox"]
        # the box covers every drawn pixel (1.5 px of rounding) and hugs the drawing: the clicked
        # corners are the outline's, a little outside the rounded body, by at most 6 % of its size
        assert bx0 <= x0 + 1.5 and by0 <= y0 + 1.5 and bx1 >= x1 - 1.5 and by1 >= y1 - 1.5, inst["key"]
        slack = max(1.5, 0.06 * max(bx1 - bx0, by1 - by0))
        assert max(x0 - bx0, y0 - by0, bx1 - x1, by1 - y1) <= slack, inst["key"]
        for part in inst["parts"]:
            px0, py0, px1, py1 = part
            assert bx0 <= px0 < px1 <= bx1 and by0 <= py0 < py1 <= by1, (inst["key"], part)
        checked += 1
    assert checked > 60


def test_the_paint_outside_the_parts_is_the_labelled_colour(data: tuple[DatasetRoot, dict]) -> None:
    root, truth = data
    colour_of = {v["id"]: v["attributes"]["color"] for v in truth["vehicles"]}
    verdicts: Counter[bool] = Counter()
    wrong = []
    for inst, mask, image, look, t in _checked_instances(data):
        paint = mask.paint.copy()
        for px0, py0, px1, py1 in inst["parts"]:  # part-free region only: the marks have their own colours
            xa, xb = int(np.floor(px0)) - mask.x0, int(np.ceil(px1)) - mask.x0
            ya, yb = int(np.floor(py0)) - mask.y0, int(np.ceil(py1)) - mask.y0
            paint[max(ya, 0):max(yb, 0), max(xa, 0):max(xb, 0)] = False
        paint = cv2.erode(paint.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)  # no edge pixels
        ys, xs = np.nonzero(paint)
        ys, xs = ys + mask.y0, xs + mask.x0
        inside = (xs >= 0) & (ys >= 0) & (xs < image.shape[1]) & (ys < image.shape[0])
        if inside.sum() < 12:  # a sliver at the border, or a tiny far-away car
            continue
        mean = image[ys[inside], xs[inside]].astype(float).mean(axis=0)
        gain = look["gain"] * (1.0 + look["gain_amp"] * np.sin(look["gain_omega"] * t + look["gain_phase"]))
        seen = mean / (gain * np.array(look["white_balance"], float))
        ok = _nearest_class(seen) == colour_of[inst["vehicle"]]
        verdicts[ok] += 1
        if not ok:
            wrong.append((inst["key"], colour_of[inst["vehicle"]], _nearest_class(seen), seen.round()))
    assert verdicts[True] > 60
    # shadows of taller neighbours and motion blur may tint a few; the label must hold for nearly all
    assert verdicts[False] <= 0.03 * sum(verdicts.values()), wrong[:10]
    assert set(colour_of.values()) <= set(COLORS)


def test_statistics_are_shaped_like_the_paper_s_figure_3(tmp_path: Path) -> None:
    """Metadata only (no pixels), enough vehicles for the shares to settle."""
    from vrai_tools.index import load_index
    from vrai_tools.stats import compute_stats

    root = generate(tmp_path / "meta", SynthConfig(pairs=4, vehicles_per_pair=60, seconds=40, seed=1, video=False))
    s = compute_stats(load_index(root))
    top_colours = sorted(s.color, key=s.color.get, reverse=True)[:3]
    top_types = sorted(s.type, key=s.type.get, reverse=True)[:3]
    assert set(top_colours) == {"White", "Black", "Gray"} and set(top_types) == {"Sedan", "SUV", "Hatchback"}
    images = sum(s.parts_per_image.values())
    with_parts = 1 - s.parts_per_image.get(0, 0) / images
    two_to_four = sum(s.parts_per_image.get(k, 0) for k in (2, 3, 4)) / images
    assert 0.86 <= with_parts <= 0.97 and two_to_four > 0.5  # paper: ~92 % carry a part, most 2-4
    vehicles = sum(s.images_per_vehicle.values())
    assert sum(n for k, n in s.images_per_vehicle.items() if k > 3) > 0.8 * vehicles
