"""`vrai-tools stats`: the numbers against what the factory generated, and the files written."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from schemas import COLORS, Manifest
from tests.dataset_factory import FactoryInfo, make_dataset
from vrai_tools.cli import cli
from vrai_tools.dataset import DatasetRoot
from vrai_tools.index import load_index
from vrai_tools.stats import compute_stats


def test_counts_match_the_generated_dataset(tmp_path: Path) -> None:
    info = FactoryInfo()
    ds = make_dataset(tmp_path / "ds", pairs=2, vehicles_per_pair=8, images=False, info=info)
    index = load_index(ds)
    s = compute_stats(index)
    n = len(index.records)
    c = s.counts
    assert c["images (instances)"] == n
    assert c["vehicles (IDs)"] == len(info.cross_camera) + len(info.single_camera) == 16
    assert c["vehicles seen by both cameras"] == len(info.cross_camera)
    assert c["vehicles seen by one camera"] == len(info.single_camera)
    assert c["images not linked yet"] == len(info.unmatched_keys)
    assert c["frames"] == 2 * 2 * 8
    # Figure 3: every image counted once per attribute, effective attributes (overrides win)
    assert sum(s.color.values()) == sum(s.type.values()) == n
    expected_colors = {col: 0 for col in COLORS}
    for r in index.records:
        if r.vehicle_id is not None:
            expected_colors[r.attributes.color] += 1  # type: ignore[index]
    assert {k: v for k, v in s.color.items() if k in COLORS} == expected_colors
    assert s.color["unset"] == len(info.unmatched_keys)
    overridden = index.by_key[info.overridden_keys[0]]
    vehicle_color = info.vehicle_color[overridden.vehicle_id]  # type: ignore[index]
    assert overridden.attributes.color != vehicle_color
    assert sum(s.parts_per_image.values()) == sum(1 for r in index.records if r.parts.state != "todo")
    assert s.parts_per_image.get(0, 0) == sum(1 for r in index.records if r.parts.state == "none")
    assert sum(s.images_per_vehicle.values()) == 16
    assert sum(k * v for k, v in s.images_per_vehicle.items()) == n - len(info.unmatched_keys)
    # Figure 4: one box size per image, matching the bboxes
    assert s.bbox_wh.shape == (n, 2)
    r0 = index.records[0]
    assert tuple(s.bbox_wh[0]) == (r0.bbox[2] - r0.bbox[0], r0.bbox[3] - r0.bbox[1])
    # progress and time
    assert s.stages["corners"] == (32, 32)
    assert s.stages["matching"] == (n - len(info.unmatched_keys), n)
    assert s.stages["parts"][0] == sum(s.parts_per_image.values())
    total_corners = sum(r.provenance["corners"].seconds for r in index.records)
    got = sum(t.seconds for t in s.stage_time if t.stage == "corners")
    assert abs(got - total_corners) < 1e-6
    assert {t.annotator for t in s.stage_time} == {"alice", "bob"}
    assert sum(t.items for t in s.stage_time if t.stage == "matching") == (
        sum(len(m.tracklets) + len(m.vehicles) for m in index.matchings.values()))


def test_stats_command_writes_summary_json_and_figures(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds", images=False)
    assert CliRunner().invoke(cli, ["split", str(ds.root), "--name", "paper", "--seed", "0", "-q"]).exit_code == 0
    out = tmp_path / "stats"
    result = CliRunner().invoke(cli, ["stats", str(ds.root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["figure3_attributes.png", "figure4_bbox_resolution.png", "stats.json", "summary.md"]
    for png in ("figure3_attributes.png", "figure4_bbox_resolution.png"):
        with Image.open(out / png) as im:
            assert im.format == "PNG" and im.width >= 1000 and im.height >= 400
    doc = json.loads((out / "stats.json").read_text())
    assert doc["counts"]["images (instances)"] == len(load_index(ds).records)
    assert doc["splits"]["paper"]["query"] > 0
    md = (out / "summary.md").read_text()
    for heading in ("## Counts (Table 1)", "## Splits", "## Attributes and parts (Figure 3)",
                    "## Bounding-box resolution (Figure 4)", "## Annotation progress", "## Annotator time per stage"):
        assert heading in md
    assert "![Figure 3](figure3_attributes.png)" in md
    assert "| corners | alice |" in md or "| corners | bob |" in md
    # reading only: the dataset is unchanged apart from what split wrote
    assert sorted(p.name for p in ds.root.iterdir()) == ["annotations", "dataset.json", "matching", "splits"]


def test_stats_of_an_empty_dataset(tmp_path: Path) -> None:
    ds = DatasetRoot(tmp_path / "empty")
    ds.root.mkdir()
    ds.save_manifest(Manifest(name="empty"))
    out = tmp_path / "stats"
    result = CliRunner().invoke(cli, ["stats", str(ds.root), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert (out / "figure4_bbox_resolution.png").stat().st_size > 0
    assert "No provenance recorded." in (out / "summary.md").read_text()


def test_stats_of_a_missing_root_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["stats", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "no dataset.json" in result.output
    assert not (tmp_path / "o").exists()
