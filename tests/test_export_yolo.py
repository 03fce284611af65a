"""`export --format yolo-parts`: crops with normalised part labels that read back to the parts."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from tests.dataset_factory import make_dataset
from vrai_tools.cli import cli
from vrai_tools.crops import pixel_box
from vrai_tools.formats.yolo import parse_yolo, yolo_lines
from vrai_tools.index import load_index


def test_yolo_parts_export(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds", pairs=1, vehicles_per_pair=6, frames=6)
    runner = CliRunner()
    assert runner.invoke(cli, ["split", str(ds.root), "--name", "s", "--seed", "0", "-q"]).exit_code == 0
    out = tmp_path / "out"
    result = runner.invoke(cli, ["export", str(ds.root), "--format", "yolo-parts", "--split", "s", "--out", str(out), "-j", "1"])
    assert result.exit_code == 0, result.output
    split, index = ds.split("s"), load_index(ds)
    todo = [k for k in split.train + split.query + split.gallery if index.by_key[k].parts.state == "todo"]
    assert f"note: {len(todo)} crop(s) left out: their parts are not annotated yet" in result.output
    assert "nc: 1" in (out / "data.yaml").read_text() and "train: images/train" in (out / "data.yaml").read_text()
    seen = 0
    for subset, keys in (("train", split.train), ("val", split.query + split.gallery)):
        for key in keys:
            r = index.by_key[key]
            stem = f"{r.clip_id}_{r.number:06d}"
            label, image = out / "labels" / subset / f"{stem}.txt", out / "images" / subset / f"{stem}.jpg"
            if r.parts.state == "todo":
                assert not label.exists() and not image.exists()
                continue
            seen += 1
            box = pixel_box(r.bbox, r.frame_size)
            with Image.open(image) as im:
                assert im.size == (box[2] - box[0], box[3] - box[1])
            text = label.read_text()
            for line in text.splitlines():
                cls, *vals = line.split()
                assert cls == "0" and len(vals) == 4 and all(0 <= float(v) <= 1 for v in vals)
            back = parse_yolo(text, box)
            assert [v for b in back for v in b] == pytest.approx([v for b in r.parts.boxes for v in b], abs=1e-3)
            assert (text == "") == (r.parts.state == "none")
    assert seen == len(list((out / "labels").rglob("*.txt"))) == len(list((out / "images").rglob("*.jpg")))


def test_yolo_lines_clamp_to_the_crop() -> None:
    lines = yolo_lines([(-5, 2, 5, 6), (20, 20, 30, 30)], (0, 0, 10, 10))
    assert lines == ["0 0.250000 0.400000 0.500000 0.400000"]  # the second box lies outside: dropped
