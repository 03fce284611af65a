"""`vrai-tools import vrai`: the official layout into our schema, round trips with `export
--format vrai`, Python-2 pickles, label bases, and every refusal (hostile pickle included)."""
from __future__ import annotations

import os
import pickle
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.dataset_factory import make_dataset
from vrai_tools.cli import cli
from vrai_tools.dataset import DatasetRoot
from vrai_tools.formats import safe_pickle
from vrai_tools.formats.vrai_release import TEST_PKL, TRAIN_PKL, detect_base
from vrai_tools.index import load_index
from vrai_tools.split import make_split


def invoke(*args: object) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


def make_release(tmp: Path, name: str = "release") -> Path:
    """A release written by our own exporter from a factory dataset."""
    ds = make_dataset(tmp / f"{name}-src", pairs=2, vehicles_per_pair=6, frames=6)
    assert invoke("split", ds.root, "--name", "paper", "--seed", 1, "-q").exit_code == 0
    out = tmp / name
    result = invoke("export", ds.root, "--format", "vrai", "--split", "paper", "--out", out, "-q", "-j", 1)
    assert result.exit_code == 0, result.output
    return out


def read_pkl(path: Path) -> dict[str, Any]:
    doc = safe_pickle.load(path).value
    assert isinstance(doc, dict)
    return doc


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_export_layout_and_keys(tmp_path: Path) -> None:
    release = make_release(tmp_path)
    src = DatasetRoot(tmp_path / "release-src")
    split, index = src.split("paper"), load_index(src)
    assert sorted(p.name for p in release.iterdir()) == ["images_test", "images_train", TEST_PKL, TRAIN_PKL]
    train, test = read_pkl(release / TRAIN_PKL), read_pkl(release / TEST_PKL)
    for key in ("train_im_names", "color_label", "type_label", "sky_label", "bumper_label", "wheel_label",
                "luggage_label", "d_part_label"):
        assert key in train
    for key in ("test_im_names", "query_order", "gallery_order", "color_label", "d_part_label"):
        assert key in test
    assert sorted(train["train_im_names"]) == sorted(p.name for p in (release / "images_train").iterdir())
    assert len(train["train_im_names"]) == len(split.train)
    assert set(train["color_label"]) == set(split.train_vehicles)  # keyed by integer vehicle id
    vid = split.train_vehicles[0]
    assert train["type_label"][vid] == ["Sedan", "Hatchback", "SUV", "Bus", "Lorry", "Truck", "Other"].index(
        src.matching(index.vehicles[vid].pair_id).vehicles[[v.id for v in src.matching(index.vehicles[vid].pair_id).vehicles].index(vid)].attributes.type)
    name = train["train_im_names"][0]
    assert len(name) == len("00000001_0001_00000045.jpg") and name.count("_") == 2
    assert len(test["query_order"]) == len(split.query) and len(test["gallery_order"]) == len(split.gallery)
    assert sorted(test["query_order"] + test["gallery_order"]) == list(range(len(test["test_im_names"])))
    for n in test["test_im_names"]:
        stem, cam = n[:-4].split("_C")
        assert len(stem) == 8 and cam in {"1", "2", "3", "4"}
    for boxes in list(train["d_part_label"].values()) + list(test["d_part_label"].values()):
        for (x1, y1), (x2, y2) in boxes:
            assert 0 <= x1 < x2 and 0 <= y1 < y2


def test_export_is_deterministic(tmp_path: Path) -> None:
    a, b = make_release(tmp_path, "a"), make_release(tmp_path, "b")
    assert tree(a) == tree(b)


def test_import_gives_back_the_labels_and_export_again_gives_back_the_release(tmp_path: Path) -> None:
    release = make_release(tmp_path)
    root = tmp_path / "imported"
    result = invoke("import", "vrai", release, "--root", root)
    assert result.exit_code == 0, result.output
    assert "color_label: 0-based" in result.output
    assert invoke("validate", root).exit_code == 0
    imported = DatasetRoot(root)
    split = imported.split("release")
    assert split.protocol == "release" and split.test_vehicles == []
    index = load_index(imported)
    train, test = read_pkl(release / TRAIN_PKL), read_pkl(release / TEST_PKL)
    # every image is a frame whose single instance covers it
    for r in index.records:
        assert r.bbox == (0.0, 0.0, *map(float, r.frame_size))
    # train: id and camera from the name, vehicle-level labels
    src = DatasetRoot(tmp_path / "release-src")
    src_split = src.split("paper")
    assert sorted(split.train_vehicles) == sorted(src_split.train_vehicles)
    for key in split.train:
        r = index.by_key[key]
        name = Path(r.frame_file).name
        vid, cam, frame = (int(x) for x in name[:-4].split("_"))
        assert r.vehicle_id == vid and r.video_frame == frame
        assert r.camera == ("A" if cam % 2 else "B")
        assert (root / r.frame_file).read_bytes() == (release / "images_train" / name).read_bytes()
    # test: unlabeled, official order, image-level labels
    names = test["test_im_names"]
    assert [Path(index.by_key[k].frame_file).name for k in split.query] == [names[i] for i in test["query_order"]]
    assert [Path(index.by_key[k].frame_file).name for k in split.gallery] == [names[i] for i in test["gallery_order"]]
    assert all(index.by_key[k].vehicle_id is None for k in split.query + split.gallery)
    # exporting the import gives the same release, byte for byte (names, pickles, images)
    again = tmp_path / "again"
    result = invoke("export", root, "--format", "vrai", "--split", "release", "--out", again, "-q")
    assert result.exit_code == 0, result.output
    assert tree(again) == tree(release)
    assert read_pkl(again / TRAIN_PKL) == train


def test_release_holdout_split_on_an_import(tmp_path: Path) -> None:
    release = make_release(tmp_path)
    root = tmp_path / "imp"
    assert invoke("import", "vrai", release, "--root", root, "-q").exit_code == 0
    result = invoke("split", root, "--name", "holdout", "--seed", 0, "--protocol", "vrai-release",
                    "--test-fraction", 0.4)
    assert result.exit_code == 0, result.output
    split = DatasetRoot(root).split("holdout")
    assert split.protocol == "release-holdout"
    release_split = DatasetRoot(root).split("release")
    assert set(split.train_vehicles) | set(split.test_vehicles) == set(release_split.train_vehicles)
    assert set(split.train) | set(split.query) | set(split.gallery) == set(release_split.train)
    assert "unlabeled image(s) of the release's test set" in result.output
    assert invoke("validate", root).exit_code == 0


# ----------------------------------------------------------------------------- Python 2, label bases


def py2_pickle(value: Any) -> bytes:
    """A protocol-2 pickle as Python 2 writes it: str as byte strings (BINSTRING opcodes)."""
    out = bytearray(b"\x80\x02")

    def emit(v: Any) -> None:
        if isinstance(v, dict):
            out.extend(b"}(")
            for k, x in v.items():
                emit(k)
                emit(x)
            out.extend(b"u")
        elif isinstance(v, list):
            out.extend(b"](")
            for x in v:
                emit(x)
            out.extend(b"e")
        elif isinstance(v, bool):
            out.extend(b"\x88" if v else b"\x89")
        elif isinstance(v, int):
            out.extend(b"J" + struct.pack("<i", v))
        elif isinstance(v, float):
            out.extend(b"G" + struct.pack(">d", v))
        elif isinstance(v, str):
            data = v.encode("latin1")
            out.extend(b"T" + struct.pack("<i", len(data)) + data)
        elif isinstance(v, Py2FloatArray):
            emit_array(v.values)
        else:
            raise TypeError(type(v))

    def emit_array(values: list[float]) -> None:
        # numpy.core.multiarray._reconstruct(ndarray, (0,), 'b') then __setstate__ with raw float32 bytes
        raw = struct.pack(f"<{len(values)}f", *values)
        out.extend(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(")
        out.extend(b"K\x01K\x02K\x02\x86cnumpy\ndtype\nU\x02f4K\x00K\x01\x87R(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
        out.extend(b"\x89T" + struct.pack("<i", len(raw)) + raw + b"tb")

    emit(value)
    out.extend(b".")
    return bytes(out)


class Py2FloatArray:
    def __init__(self, values: list[float]) -> None:
        self.values = values


def test_python2_pickles_with_numpy_arrays_and_1_based_labels(tmp_path: Path) -> None:
    release = make_release(tmp_path)
    train, test = read_pkl(release / TRAIN_PKL), read_pkl(release / TEST_PKL)
    for doc in (train, test):
        doc.pop("label_names")  # a real release does not describe its labels
        for key in ("color_label", "type_label"):
            doc[key] = {k: v + 1 for k, v in doc[key].items()}  # 1-based, as a MATLAB-era release might be
    # make sure the 1-based type labels are recognisable: one vehicle of type 'Other' (7)
    some_vid = next(iter(train["type_label"]))
    train["type_label"][some_vid] = 7
    train["color_label"][some_vid] = 9  # 'Other' colour
    name = train["train_im_names"][0]
    train["d_part_label"][name] = Py2FloatArray([1.5, 1.5, 10.5, 8.5])  # a 2x2 float32 numpy array from Python 2
    train["comment"] = "caf\xe9"  # a Python-2 byte string that is not ASCII
    (release / TRAIN_PKL).write_bytes(py2_pickle(train))
    (release / TEST_PKL).write_bytes(py2_pickle(test))
    root = tmp_path / "imp"
    result = invoke("import", "vrai", release, "--root", root)
    assert result.exit_code == 0, result.output
    assert "train_annotation.pkl: Python-2 pickle, strings read as latin-1" in result.output
    assert "type_label: 1-based (label 7 present)" in result.output
    assert "color_label: 1-based (label 9 present)" in result.output
    index = load_index(root)
    vehicle = index.vehicles[int(some_vid)]
    assert (vehicle.attributes.type, vehicle.attributes.color) == ("Other", "Other")
    rec = next(r for r in index.records if Path(r.frame_file).name == name)
    assert rec.parts.boxes == [(1.5, 1.5, 10.5, 8.5)]
    # labels shifted back equal the original ones elsewhere
    src = read_pkl(make_release(tmp_path, "fresh") / TRAIN_PKL)
    other_vid = [v for v in src["type_label"] if v != some_vid][0]
    from schemas import TYPES

    assert index.vehicles[int(other_vid)].attributes.type == TYPES[src["type_label"][other_vid]]


@pytest.mark.parametrize("values, n, base", [([0, 3, 8], 9, 0), ([1, 9, 4], 9, 1), ([2, 5], 9, 0), ([], 9, 0)])
def test_detect_base(values: list[int], n: int, base: int) -> None:
    assert detect_base(values, n)[0] == base


def test_labels_outside_both_bases_are_refused(tmp_path: Path) -> None:
    release = make_release(tmp_path)
    train = read_pkl(release / TRAIN_PKL)
    train.pop("label_names")
    train["color_label"] = {k: 0 for k in train["color_label"]}
    train["color_label"][next(iter(train["color_label"]))] = 9
    (release / TRAIN_PKL).write_bytes(pickle.dumps(train, protocol=2))
    test = read_pkl(release / TEST_PKL)
    test.pop("label_names")
    (release / TEST_PKL).write_bytes(pickle.dumps(test, protocol=2))
    result = invoke("import", "vrai", release, "--root", tmp_path / "imp")
    assert result.exit_code == 1
    assert "color_label: labels range 0..9, outside 0..8 and 1..9" in result.output
    assert not (tmp_path / "imp").exists()


# ----------------------------------------------------------------------------- refusals


class Evil:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.target}",))


def test_hostile_pickle_is_refused_without_running(tmp_path: Path) -> None:
    release = make_release(tmp_path)
    sentinel = tmp_path / "PWNED"
    train = read_pkl(release / TRAIN_PKL)
    train["color_label"] = Evil(sentinel)
    (release / TRAIN_PKL).write_bytes(pickle.dumps(train, protocol=2))
    result = invoke("import", "vrai", release, "--root", tmp_path / "imp")
    assert result.exit_code == 1
    line = result.output.strip()
    assert line.count("\n") == 0
    assert line.startswith(f"Error: {release / TRAIN_PKL}: refused to load the pickle: it names the global posix.system")
    assert not sentinel.exists()
    assert not (tmp_path / "imp").exists()


@pytest.mark.parametrize("breakage, message", [
    (lambda r: (r / TRAIN_PKL).unlink(), "train_annotation.pkl: missing"),
    (lambda r: shutil.rmtree(r / "images_train"), "images_train: missing"),
    (lambda r: (r / TEST_PKL).unlink(), "test_annotation.pkl: missing, but images_test is there"),
    (lambda r: next((r / "images_train").iterdir()).unlink(), "image listed in the annotation pickle is missing"),
    (lambda r: (r / TRAIN_PKL).write_bytes(b"\x80\x02}q\x00(X"), "not a readable pickle"),
    (lambda r: (r / TRAIN_PKL).write_bytes(pickle.dumps([1, 2])), "expected a dict at the top level"),
    (lambda r: (r / TRAIN_PKL).write_bytes(pickle.dumps({"train_im_names": ["x.jpg"]})), "image name 'x.jpg' does not look like"),
])
def test_broken_releases_are_refused_and_nothing_is_written(tmp_path: Path, breakage: Any, message: str) -> None:
    release = make_release(tmp_path)
    breakage(release)
    root = tmp_path / "imp"
    result = invoke("import", "vrai", release, "--root", root)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert not root.exists()


def test_import_refuses_a_non_empty_root(tmp_path: Path) -> None:
    release = make_release(tmp_path)
    root = tmp_path / "imp"
    root.mkdir()
    (root / "mine.txt").write_text("keep me")
    result = invoke("import", "vrai", release, "--root", root)
    assert result.exit_code == 1
    assert f"--root {root} is not empty" in result.output
    assert [p.name for p in root.iterdir()] == ["mine.txt"]


def test_a_failed_copy_leaves_an_empty_root_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = make_release(tmp_path)
    root = tmp_path / "imp"
    root.mkdir()
    calls = {"n": 0}
    import vrai_tools.formats.importing as importing

    def failing(src: Path, dest: Path) -> None:
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(28, "No space left on device")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)

    monkeypatch.setattr(importing, "copy_or_link", failing)
    with pytest.raises(OSError):
        importing.import_dataset("vrai", release, root)
    assert root.is_dir() and not any(root.iterdir())


def test_hold_out_of_non_release_is_plain_vrai(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds", images=False)
    split = make_split(load_index(ds), "x", 0)
    assert split.protocol == "vrai"


@pytest.mark.parametrize("q, g, expect, note", [
    ([0, 2], [1, 3], (["a", "c"], ["b", "d"]), "0-based"),
    ([1, 3], [2, 4], (["a", "c"], ["b", "d"]), "1-based"),
    (["c", "a"], ["b", "d"], (["c", "a"], ["b", "d"]), None),
])
def test_official_orders(q: list[Any], g: list[Any], expect: tuple[list[str], list[str]], note: str | None) -> None:
    from vrai_tools.formats.vrai_release import _resolve_orders

    notes: list[str] = []
    assert _resolve_orders(q, g, ["a", "b", "c", "d"], Path("t.pkl"), notes) == expect
    assert (note is None and not notes) or (note is not None and note in notes[0])


def test_an_image_in_query_and_gallery_is_refused() -> None:
    from vrai_tools.errors import FormatError
    from vrai_tools.formats.vrai_release import _resolve_orders

    with pytest.raises(FormatError, match="t.pkl: image 'b' is in both query_order and gallery_order"):
        _resolve_orders([0, 1], [1, 2], ["a", "b", "c"], Path("t.pkl"), [])
