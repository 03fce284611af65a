"""`vrai-tools export`: refusals (unknown format, non-empty --out, missing split, missing
frames), --force, determinism and --help of the dataset commands."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.dataset_factory import make_dataset
from vrai_tools.cli import cli
from vrai_tools.dataset import DatasetRoot
from vrai_tools.formats import EXPORT_FORMATS


def invoke(*args: object) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture()
def ds(tmp_path: Path) -> DatasetRoot:
    ds = make_dataset(tmp_path / "ds", pairs=1, vehicles_per_pair=6, frames=5)
    assert invoke("split", ds.root, "--name", "s", "--seed", 0, "-q").exit_code == 0
    return ds


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_unknown_format_is_a_usage_error(ds: DatasetRoot, tmp_path: Path) -> None:
    result = invoke("export", ds.root, "--format", "pascal", "--split", "s", "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "Invalid value for '--format': 'pascal' is not one of" in result.output
    assert not (tmp_path / "o").exists()
    from vrai_tools.errors import FormatError
    from vrai_tools.formats.exporting import export_dataset

    with pytest.raises(FormatError, match="unknown export format 'pascal'; choose one of market1501, vrai, coco, yolo-parts"):
        export_dataset(ds, "pascal", "s", tmp_path / "o")


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_every_format_is_deterministic(ds: DatasetRoot, tmp_path: Path, fmt: str) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert invoke("export", ds.root, "--format", fmt, "--split", "s", "--out", a, "-q", "-j", 1).exit_code == 0
    assert invoke("export", ds.root, "--format", fmt, "--split", "s", "--out", b, "-q", "-j", 2).exit_code == 0
    ta = tree(a)
    assert ta and ta == tree(b)
    assert not any(".tmp" in name for name in ta)


def test_non_empty_out_is_refused_unless_forced(ds: DatasetRoot, tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = invoke("export", ds.root, "--format", "market1501", "--split", "s", "--out", out)
    assert result.exit_code == 1
    assert result.output == f"Error: --out {out} is not empty; pass --force to replace the market1501 files in it\n"
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    # --force: a stale file of an earlier export goes, the user's own file stays
    (out / "query").mkdir()
    (out / "query" / "9999_c1s1_000000_01.jpg").write_bytes(b"old")
    assert invoke("export", ds.root, "--format", "market1501", "--split", "s", "--out", out, "--force", "-q").exit_code == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "query" / "9999_c1s1_000000_01.jpg").exists()
    assert len(list((out / "query").iterdir())) == len(ds.split("s").query)


def test_missing_split_is_one_line(ds: DatasetRoot, tmp_path: Path) -> None:
    result = invoke("export", ds.root, "--format", "vrai", "--split", "nope", "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "no split named 'nope' (have: s)" in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("fmt", ["vrai", "coco"])
def test_missing_frame_leaves_nothing_behind(ds: DatasetRoot, tmp_path: Path, fmt: str) -> None:
    split = ds.split("s")
    from vrai_tools.index import load_index

    lost = load_index(ds).by_key[split.train[0]].frame_file
    (ds.root / lost).unlink()
    out = tmp_path / "o"
    result = invoke("export", ds.root, "--format", fmt, "--split", "s", "--out", out, "-j", 1)
    assert result.exit_code == 1
    assert f"{lost}: frame image is missing" in result.output
    assert not out.exists()
    out.mkdir()
    result = invoke("export", ds.root, "--format", fmt, "--split", "s", "--out", out, "-j", 1)
    assert result.exit_code == 1 and out.is_dir() and not any(out.iterdir())


@pytest.mark.parametrize("command", ["split", "stats", "crops", "export", "import", "import vrai", "import market1501"])
def test_help_has_an_example(command: str) -> None:
    result = CliRunner().invoke(cli, [*command.split(), "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and "vrai-tools " in result.output
