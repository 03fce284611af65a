"""The human-performance test of the VRAI paper (§5.6, Table 6), without Qt.

A trial is a query crop and two candidates: one of the query's vehicle, one of a
different vehicle with the same annotated attributes, in random order. Equal attributes
are the point: the person (and the model) cannot answer from colour or type and must
find the fine details that tell look-alikes apart.

This module builds the trials (deterministically from split and seed), creates, checks
and scores a results file, and answers the same trials with a model's features, so
``vrai-tools evaluate ... --human-eval FILE`` can print the person beside the model.
"""
from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Literal, Mapping, Sequence

import numpy as np

from schemas import Attributes, HumanEvalResults, HumanEvalTrial, Split
from schemas.human_eval import AttributeMatch, Side

from .dataset import DatasetRoot
from .errors import VraiToolsError
from .index import DatasetIndex, InstanceRecord, load_index
from .storage import load_model

__all__ = ["HumanScore", "HumanVsModel", "build_trials", "check_same_test", "default_results_path",
           "features_distance", "human_vs_model", "load_results", "model_answers", "new_results", "score"]

DEFAULT_QUERIES = 100
RESULTS_DIR = "human-eval"
Distance = Callable[[str, str], float]


class HumanEvalError(VraiToolsError):
    """A test that cannot be built, resumed or scored as asked."""


def _signature(attrs: Attributes, match: AttributeMatch) -> tuple[object, ...]:
    if match == "color+type":
        return (attrs.color, attrs.type)
    return (attrs.color, attrs.type, attrs.skylight, attrs.bumper, attrs.spare_tire, attrs.luggage_rack)


def build_trials(index: DatasetIndex, split: Split, *, queries: int = DEFAULT_QUERIES,
                 seed: int = 0) -> tuple[list[HumanEvalTrial], int]:
    """Up to ``queries`` trials from the split's query set, and how many sampled queries were skipped.

    Queries are drawn in a seeded random order. The positive is a gallery image of the
    query's vehicle, from the other camera when there is one (the ReID task is
    cross-camera). The distractor is a gallery image of another vehicle whose effective
    attributes equal the query's in all six fields, or in colour and type when no vehicle
    shares all six; it is taken from the positive's camera when possible, so the camera
    gives nothing away. A query without colour and type, or without any distractor, is
    skipped. Only ``random.Random(seed)`` decides, and candidates are considered in the
    split's gallery order, so the same inputs always give the same trials.
    """
    if queries < 1:
        raise HumanEvalError(f"--queries must be at least 1, got {queries}")
    records = index.split_records(split)
    gallery = records["gallery"]
    by_vehicle: dict[int, list[InstanceRecord]] = {}
    by_attrs: dict[tuple[AttributeMatch, tuple[object, ...]], list[InstanceRecord]] = {}
    for rec in gallery:
        if rec.vehicle_id is None:
            continue
        by_vehicle.setdefault(rec.vehicle_id, []).append(rec)
        for match in ("all", "color+type"):
            by_attrs.setdefault((match, _signature(rec.attributes, match)), []).append(rec)  # type: ignore[arg-type]
    rnd = random.Random(seed)
    order = list(records["query"])
    rnd.shuffle(order)
    trials: list[HumanEvalTrial] = []
    skipped = 0
    for q in order:
        if len(trials) == queries:
            break
        if q.vehicle_id is None or q.attributes.color is None or q.attributes.type is None:
            skipped += 1
            continue
        same = by_vehicle.get(q.vehicle_id, [])
        other_camera = [r for r in same if r.camera != q.camera]
        positives = other_camera or same
        if not positives:
            skipped += 1
            continue
        positive = rnd.choice(positives)
        distractor, level = None, None
        for match in ("all", "color+type"):
            pool = [r for r in by_attrs.get((match, _signature(q.attributes, match)), ())  # type: ignore[arg-type]
                    if r.vehicle_id != q.vehicle_id]
            if pool:
                same_camera = [r for r in pool if r.camera == positive.camera]
                distractor, level = rnd.choice(same_camera or pool), match
                break
        if distractor is None:
            skipped += 1
            continue
        same_side: Side = "left" if rnd.random() < 0.5 else "right"
        left, right = (positive, distractor) if same_side == "left" else (distractor, positive)
        trials.append(HumanEvalTrial(
            index=len(trials), query=q.key, left=left.key, right=right.key, same=same_side,
            query_vehicle=q.vehicle_id, distractor_vehicle=distractor.vehicle_id,  # type: ignore[arg-type]
            match=level,  # type: ignore[arg-type]
        ))
    return trials, skipped


def default_results_path(root: DatasetRoot, split: str, seed: int, annotator: str) -> Path:
    """``ROOT/human-eval/<split>-seed<S>-<annotator>.json``: one file per person and test."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in annotator.strip()) or "anonymous"
    return root.root / RESULTS_DIR / f"{split}-seed{seed}-{safe}.json"


def new_results(root: DatasetRoot | Path | str, split: str, *, queries: int = DEFAULT_QUERIES, seed: int = 0,
                annotator: str, index: DatasetIndex | None = None,
                created: datetime | None = None) -> HumanEvalResults:
    """A fresh, unanswered test; raises when the split yields no usable trial."""
    ds = root if isinstance(root, DatasetRoot) else DatasetRoot(root)
    split_doc = ds.split(split)
    index = index or load_index(ds)
    trials, skipped = build_trials(index, split_doc, queries=queries, seed=seed)
    if not trials:
        raise HumanEvalError(
            f"split {split!r}: no usable query ({skipped} skipped): each needs colour and type annotated, a "
            "gallery image of its vehicle, and a gallery image of another vehicle with the same attributes")
    return HumanEvalResults(
        dataset=index.manifest.name, split=split, seed=seed, queries=queries, annotator=annotator,
        created=created or datetime.now(timezone.utc).replace(microsecond=0), skipped_queries=skipped,
        trials=trials,
    )


def load_results(path: Path | str) -> HumanEvalResults:
    return load_model(Path(path), HumanEvalResults)


def check_same_test(results: HumanEvalResults, path: Path, *, split: str, seed: int, queries: int) -> None:
    """Refuse to resume a results file that was made for another test (it would mix two tests)."""
    for name, have, want in (("split", results.split, split), ("seed", results.seed, seed),
                             ("queries", results.queries, queries)):
        if have != want:
            raise HumanEvalError(f"{path}: {name}: this file is a test with {name} {have!r}, not {want!r}; "
                                 "use the same options to resume it, or --results for a new file")


# ----------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class HumanScore:
    trials: int
    answered: int
    correct: int
    mean_seconds: float | None
    median_seconds: float | None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answered if self.answered else None


def score(results: HumanEvalResults) -> HumanScore:
    answered = [t for t in results.trials if t.answer is not None]
    seconds = [float(t.seconds) for t in answered if t.seconds is not None]
    return HumanScore(
        trials=len(results.trials), answered=len(answered), correct=sum(t.answer == t.same for t in answered),
        mean_seconds=statistics.fmean(seconds) if seconds else None,
        median_seconds=statistics.median(seconds) if seconds else None,
    )


def features_distance(features: Mapping[str, Sequence[float] | np.ndarray],
                      metric: Literal["euclidean", "cosine"] = "euclidean") -> Distance:
    """A distance between two instance keys from their feature vectors."""
    if metric not in ("euclidean", "cosine"):
        raise HumanEvalError(f"unknown metric {metric!r} (euclidean or cosine)")

    def vector(key: str) -> np.ndarray:
        try:
            return np.asarray(features[key], dtype=np.float64).ravel()
        except KeyError:
            raise HumanEvalError(f"no feature for instance {key!r}: the features must cover the "
                                 "split's query and gallery sets") from None

    def distance(a: str, b: str) -> float:
        u, v = vector(a), vector(b)
        if metric == "euclidean":
            return float(np.linalg.norm(u - v))
        nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
        return 1.0 - float(u @ v) / (nu * nv) if nu > 0 and nv > 0 else 1.0

    return distance


def model_answers(results: HumanEvalResults, distance: Distance) -> list[Side | None]:
    """The model picks the closer candidate; a tie (or a NaN) is no answer, counted as wrong."""
    out: list[Side | None] = []
    for t in results.trials:
        dl, dr = distance(t.query, t.left), distance(t.query, t.right)
        if math.isnan(dl) or math.isnan(dr) or dl == dr:
            out.append(None)
        else:
            out.append("left" if dl < dr else "right")
    return out


@dataclass(frozen=True)
class HumanVsModel:
    """Table 6: the person and the model on exactly the same trials (those the person answered)."""

    results_file: str
    annotator: str
    split: str
    seed: int
    trials: int  # in the file
    answered: int  # by the person; both accuracies are over these
    human_correct: int
    model_correct: int
    model_correct_all: int  # the model over every trial of the file, answered by the person or not
    human_mean_seconds: float | None

    @property
    def human_accuracy(self) -> float | None:
        return self.human_correct / self.answered if self.answered else None

    @property
    def model_accuracy(self) -> float | None:
        return self.model_correct / self.answered if self.answered else None

    def as_dict(self) -> dict[str, object]:
        return {"results_file": self.results_file, "annotator": self.annotator, "split": self.split,
                "seed": self.seed, "trials": self.trials, "answered": self.answered,
                "human_accuracy": self.human_accuracy, "model_accuracy": self.model_accuracy,
                "model_accuracy_all_trials": self.model_correct_all / self.trials if self.trials else None,
                "human_seconds_per_query": self.human_mean_seconds}

    def markdown(self, model_name: str = "Model") -> str:
        def pct(v: float | None) -> str:
            return "—" if v is None else f"{100 * v:.1f} %"

        secs = "—" if self.human_mean_seconds is None else f"{self.human_mean_seconds:.1f}"
        lines = [
            f"Human performance (paper §5.6, Table 6): split {self.split}, seed {self.seed}, "
            f"{self.answered} of {self.trials} trials answered",
            "",
            "| Who | Queries | Accuracy | Seconds / query |",
            "|---|---:|---:|---:|",
            f"| Human ({self.annotator}) | {self.answered} | {pct(self.human_accuracy)} | {secs} |",
            f"| {model_name} | {self.answered} | {pct(self.model_accuracy)} | — |",
        ]
        return "\n".join(lines) + "\n"


def human_vs_model(results_file: Path | str, *, features: Mapping[str, Sequence[float] | np.ndarray] | None = None,
                   distance: Distance | None = None,
                   metric: Literal["euclidean", "cosine"] = "euclidean") -> HumanVsModel:
    """Score a person's results file and a model on the same trials.

    Give the model as ``features`` (instance key -> feature vector, covering the
    trials' queries and candidates; compared with ``metric``) or as ``distance(key_a,
    key_b)``. The model is right when its closer candidate is the query's vehicle.
    """
    if (features is None) == (distance is None):
        raise HumanEvalError("give the model's features or a distance function (exactly one)")
    path = Path(results_file)
    results = load_results(path)
    dist = distance if distance is not None else features_distance(features or {}, metric)
    picks = model_answers(results, dist)
    answered = [(t, p) for t, p in zip(results.trials, picks) if t.answer is not None]
    s = score(results)
    return HumanVsModel(
        results_file=str(path), annotator=results.annotator, split=results.split, seed=results.seed,
        trials=len(results.trials), answered=len(answered), human_correct=s.correct,
        model_correct=sum(p == t.same for t, p in answered),
        model_correct_all=sum(p == t.same for t, p in zip(results.trials, picks)),
        human_mean_seconds=s.mean_seconds,
    )
