"""``vrai-tools synth`` as its users run it: the summary with the time taken, the stage
subsets, and refusing (in one line, touching nothing) to overwrite anything but its own
untouched output."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from schemas import ClipAnnotations
from vrai_tools.cli import cli
from vrai_tools.storage import load_model
from vrai_tools.validate import validate_root

SMALL = ["--pairs", "1", "--vehicles-per-pair", "3", "--seconds", "2", "--resolution", "160x90"]


def synth(*args: str) -> Result:
    return CliRunner().invoke(cli, ["synth", *args])


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # a message, not a crash
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_synth_prints_what_it_made_and_the_time(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = synth(str(out), *SMALL)
    assert result.exit_code == 0, result.output
    m = re.search(r"(\d+) clips .* (\d+) frames, (\d+) instances, (\d+) vehicles", result.output)
    assert m and m.group(1) == "2" and m.group(2) == "8"  # 2 s sampled every 0.5 s, in each of 2 clips
    assert re.search(r"done in \d+\.\d s", result.output)
    report = validate_root(out)
    assert report.ok and report.counts["instances"] == int(m.group(3))
    assert sorted(p.name for p in (out / "videos").iterdir()) == ["p001-A.SRT", "p001-A.mp4", "p001-B.SRT", "p001-B.mp4"]


def test_annotate_corners_leaves_the_later_stages_to_do(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    assert synth(str(out), *SMALL, "--annotate", "corners", "-q").exit_code == 0
    assert not (out / "matching").exists()
    ann = load_model(out / "annotations" / "p001-A.json", ClipAnnotations)
    assert ann.instances and all(i.parts.state != "done" and set(i.provenance) == {"corners"} for i in ann.instances)
    report = validate_root(out)
    assert report.stages["corners"].done == report.stages["corners"].total > 0
    assert report.stages["parts"].done == 0


def test_an_untouched_output_is_replaced_an_edited_one_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    assert synth(str(out), *SMALL, "-q").exit_code == 0
    assert synth(str(out), *SMALL, "--seed", "1", "-q").exit_code == 0  # nobody touched it: replaced
    assert '"seed": 1' in (out / "synth.json").read_text()
    edited = out / "annotations" / "p001-B.json"
    edited.write_text(edited.read_text().replace('"key"', '"key" ', 1))
    before = tree(out)
    line = one_line_error(synth(str(out), *SMALL, "-q"))
    assert str(edited) in line and "changed since synth wrote it" in line
    assert tree(out) == before  # nothing lost, nothing added


@pytest.mark.parametrize("setup, says", [
    (lambda d: (d / "notes.txt").write_text("mine"), "not a vrai-tools synth output"),
    (lambda d: d.with_name("file").write_text("x"), "is not a folder"),
])
def test_a_folder_synth_did_not_write_is_left_alone(tmp_path: Path, setup, says: str) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    setup(out)
    target = out if says != "is not a folder" else out.with_name("file")
    before = tree(tmp_path)
    line = one_line_error(synth(str(target), *SMALL, "-q"))
    assert says in line and str(target) in line
    assert tree(tmp_path) == before


@pytest.mark.parametrize("args, says", [
    (["--resolution", "321x180"], "even"),
    (["--resolution", "big"], "WIDTHxHEIGHT"),
    (["--annotate", "parts"], "need the corners stage"),
    (["--every", "0s"], "--every"),
])
def test_bad_options_are_named(tmp_path: Path, args: list[str], says: str) -> None:
    result = synth(str(tmp_path / "ds"), "--seconds", "2", *args)
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output
    assert not (tmp_path / "ds").exists()
