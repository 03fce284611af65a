"""The data model: migrations, JSON Schema drift, round trips and mutations (hypothesis)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import DOCUMENTS, ClipAnnotations, Instance, Manifest, Parts, corners_problem
from schemas.generate import OUT, render
from tests.handmade import make_handmade
from vrai_tools.errors import DatasetFileError, SchemaVersionError
from vrai_tools.storage import dump_model, load_model, parse_model


def test_json_schema_files_match_models() -> None:
    for kind in DOCUMENTS:
        path = OUT / f"{kind}.schema.json"
        assert path.exists(), f"{path} missing: run python -m schemas.generate"
        assert path.read_text() == render(kind), f"{path} drifted from the models: run python -m schemas.generate"


def test_v1_annotations_are_migrated(tmp_path: Path) -> None:
    old = {
        "schema_version": 1, "clip_id": "c", "image_size": [100, 100],
        "instances": [
            {"key": "c:0", "frame": 0, "corners": [[10, 10], [40, 12], [38, 30], [12, 28]], "bbox": [10, 10, 40, 30],
             "parts": [[15, 12, 20, 18]], "parts_done": True},
            {"key": "c:1", "frame": 0, "corners": [[50, 50], [80, 52], [78, 70], [52, 68]], "bbox": [50, 50, 80, 70],
             "parts": [], "parts_done": True},
            {"key": "c:2", "frame": 1, "corners": [[50, 50], [80, 52], [78, 70], [52, 68]], "bbox": [50, 50, 80, 70]},
        ],
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps(old))
    ann = load_model(path, ClipAnnotations)
    assert ann.schema_version == 2
    assert [i.parts.state for i in ann.instances] == ["done", "none", "todo"]
    assert ann.instances[0].parts.boxes == [(15.0, 12.0, 20.0, 18.0)]
    assert json.loads(path.read_text()) == old  # loading never rewrites the file


def test_missing_and_future_versions_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SchemaVersionError, match="schema_version: missing"):
        parse_model(tmp_path / "x.json", {"clip_id": "c", "image_size": [1, 1]}, ClipAnnotations)
    with pytest.raises(SchemaVersionError, match="newer than this vrai-tools"):
        parse_model(tmp_path / "x.json", {"schema_version": 3}, ClipAnnotations)
    with pytest.raises(SchemaVersionError, match="0 is unknown"):
        parse_model(tmp_path / "x.json", {"schema_version": 0}, ClipAnnotations)


def test_parts_state_rules() -> None:
    with pytest.raises(ValueError, match="state 'none' but 1 part box"):
        Parts(state="none", boxes=[(0, 0, 1, 1)])
    with pytest.raises(ValueError, match="needs at least one part box"):
        Parts(state="done")


def test_corner_rules() -> None:
    assert corners_problem([(0, 0), (10, 0), (10, 10), (0, 10)]) is None
    assert "same point" in str(corners_problem([(0, 0), (0, 0), (10, 10), (0, 10)]))
    assert "collinear" in str(corners_problem([(0, 0), (5, 5), (10, 10), (0, 10)]))


def test_duplicate_clip_camera_is_refused() -> None:
    with pytest.raises(ValueError, match="already has a camera A clip"):
        Manifest(name="x", pairs=[{"id": "p"}], clips=[  # type: ignore[list-item]
            {"id": "a", "pair": "p", "camera": "A", "width": 1, "height": 1},
            {"id": "b", "pair": "p", "camera": "A", "width": 1, "height": 1},
        ])


# ------------------------------------------------------------------ property-based

coord = st.floats(min_value=0, max_value=1000, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 3))


@st.composite
def instances(draw: Any, clip: str = "c", n: int = 0) -> Instance:
    x, y = draw(coord), draw(coord)
    w = draw(st.floats(min_value=4, max_value=300).map(lambda v: round(v, 3)))
    h = draw(st.floats(min_value=4, max_value=300).map(lambda v: round(v, 3)))
    d = draw(st.floats(min_value=0, max_value=1).map(lambda v: round(v, 3)))
    corners = [(x + d, y), (x + w, y + d), (x + w - d, y + h), (x, y + h - d)]
    state = draw(st.sampled_from(["todo", "done", "none"]))
    boxes = [(x + 1, y + 1, x + w / 2, y + h / 2)] if state == "done" else []
    color = draw(st.sampled_from([None, "White", "Red", "Other"]))
    return Instance.from_corners(f"{clip}:{n}", draw(st.integers(0, 10_000)), corners,
                                 parts=Parts(state=state, boxes=boxes), attributes={"color": color})


@st.composite
def clip_annotations(draw: Any) -> ClipAnnotations:
    count = draw(st.integers(0, 5))
    insts = [draw(instances(n=i)) for i in range(count)]
    return ClipAnnotations(clip_id="c", image_size=(1400, 1400), instances=insts,
                           frames_done=sorted(draw(st.sets(st.integers(0, 100), max_size=5))))


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(clip_annotations())
def test_valid_documents_round_trip(doc: ClipAnnotations) -> None:
    text = dump_model(doc)
    again = parse_model(Path("x.json"), json.loads(text), ClipAnnotations)
    assert again == doc
    assert dump_model(again) == text


def _mutate(data: Any, rnd: Any) -> Any:
    """Replace one randomly chosen node of the JSON tree with a random value."""
    nodes: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k in node:
                nodes.append((node, k))
                walk(node[k])
        elif isinstance(node, list):
            for i in range(len(node)):
                nodes.append((node, i))
                walk(node[i])

    walk(data)
    if nodes:
        parent, k = rnd.choice(nodes)
        parent[k] = rnd.choice([None, -1, 1e9, "x", [], {}, [1, 2], True, "../x", {"bogus": 1}])
    return data


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture], deadline=None)
@given(st.randoms(use_true_random=False), st.sampled_from(["dataset.json", "annotations/p1-A.json", "matching/p1.json", "splits/s0.json"]))
def test_mutated_documents_only_raise_typed_errors(tmp_path_factory: Any, rnd: Any, rel: str) -> None:
    root = make_handmade(tmp_path_factory.mktemp("m"))
    kinds = {"dataset.json": "manifest", "annotations/p1-A.json": "clip-annotations",
             "matching/p1.json": "pair-matching", "splits/s0.json": "split"}
    data = _mutate(json.loads((root / rel).read_text()), rnd)
    try:
        parse_model(root / rel, data, DOCUMENTS[kinds[rel]])
    except DatasetFileError as e:
        assert str(e).startswith(str(root / rel))
