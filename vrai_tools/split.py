"""Train/test splits (paper §5.1) and the hold-out of an imported official release.

§5.1: vehicle identities are divided into disjoint train and test sets (6,302 / 6,720 of
13,022); the test images are divided about 25 % query / 75 % gallery so that every query
has at least one gallery image of its vehicle taken by the *other* camera (otherwise a
query could be answered by a near-duplicate frame of the same camera). Vehicles seen by
one camera only cannot satisfy that and are left out.

How the query rule is met for each test vehicle: one image of each camera is reserved
for the gallery first, then queries are drawn from the rest. Any query therefore has the
reserved image of the other camera in the gallery. The number of queries is allotted
over all test vehicles so the overall fraction hits the target, never taking a vehicle's
reserved images.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Literal

from schemas import Split
from schemas.base import ID_PATTERN

from .dataset import DatasetRoot
from .errors import SplitError
from .index import DatasetIndex
from .storage import save_model

PAPER_TEST_FRACTION = 6720 / 13022
RELEASE_HOLDOUT_FRACTION = 0.1  # of the release's training identities, kept aside for local evaluation
DEFAULT_QUERY_FRACTION = 0.25

CliProtocol = Literal["vrai", "vrai-release"]


@dataclass(frozen=True)
class SplitSummary:
    """The counts in the paper's terms (Table 1 / §5.1)."""

    train_images: int
    train_ids: int
    test_images: int
    test_ids: int
    query: int
    gallery: int
    excluded_single_camera: int
    unmatched_instances: int
    excluded_images: int = 0  # images of the single-camera vehicles
    release: bool = False  # an imported release: the unlinked images are its hidden-identity test set

    def lines(self) -> list[str]:
        return [
            f"train: {self.train_images} images of {self.train_ids} IDs",
            f"test:  {self.test_images} images of {self.test_ids} IDs "
            f"(query {self.query}, gallery {self.gallery})",
            f"left out: {self.excluded_single_camera} vehicle(s) seen by one camera only "
            f"({self.excluded_images} images), {self.unmatched_instances} "
            + ("unlabeled image(s) of the release's test set" if self.release
               else "image(s) not linked to a vehicle"),
        ]


def summarise(split: Split, index: DatasetIndex) -> SplitSummary:
    linked = {k for v in index.vehicles.values() for k in v.keys}
    return SplitSummary(
        train_images=len(split.train), train_ids=len(split.train_vehicles),
        test_images=len(split.query) + len(split.gallery), test_ids=len(split.test_vehicles),
        query=len(split.query), gallery=len(split.gallery),
        excluded_single_camera=split.excluded_single_camera,
        unmatched_instances=sum(1 for r in index.records if r.key not in linked),
        excluded_images=sum(len(v.keys) for v in index.vehicles.values() if not v.cross_camera),
        release=index.manifest.source == "vrai-release",
    )


def make_split(index: DatasetIndex, name: str, seed: int, *, test_fraction: float | None = None,
               query_fraction: float = DEFAULT_QUERY_FRACTION, protocol: CliProtocol = "vrai") -> Split:
    """A seeded split of ``index``; raises :class:`SplitError` when none is possible."""
    if not re.match(ID_PATTERN, name):
        raise SplitError(f"split name {name!r}: use letters, digits, '_', '.', '-' (starting with a letter or digit)")
    if protocol == "vrai-release":
        if index.manifest.source != "vrai-release":
            raise SplitError(f"--protocol vrai-release is for an imported official release; "
                             f"{index.root.manifest_path} has source {index.manifest.source!r} "
                             f"(use --protocol vrai)")
        fraction = RELEASE_HOLDOUT_FRACTION if test_fraction is None else test_fraction
    elif protocol == "vrai":
        fraction = PAPER_TEST_FRACTION if test_fraction is None else test_fraction
    else:
        raise SplitError(f"unknown protocol {protocol!r} (vrai or vrai-release)")
    if not 0 < fraction < 1:
        raise SplitError(f"--test-fraction must be between 0 and 1 (exclusive), got {fraction:g}")
    if not 0 < query_fraction < 1:
        raise SplitError(f"--query-fraction must be between 0 and 1 (exclusive), got {query_fraction:g}")

    rnd = random.Random(seed)
    eligible = index.cross_camera_vehicles()
    excluded = len(index.vehicles) - len(eligible)
    if len(eligible) < 2:
        raise SplitError(
            f"split impossible: {len(eligible)} vehicle(s) seen by both cameras ({excluded} by one camera "
            f"only); a split needs at least 2 (one to train, one to test). Link more tracklets across "
            f"cameras in the matching stage.")
    order = list(eligible)
    rnd.shuffle(order)
    n_test = min(max(1, round(fraction * len(order))), len(order) - 1)
    test_ids = sorted(order[:n_test])
    train_ids = sorted(order[n_test:])

    position = {r.key: i for i, r in enumerate(index.records)}
    by_key = index.by_key
    train_keys = [k for vid in train_ids for k in index.vehicles[vid].keys]
    train_keys.sort(key=position.__getitem__)

    # Per test vehicle: reserve one gallery image per camera, the rest is the query pool.
    pools: list[list[str]] = []
    reserved: list[str] = []
    total = 0
    for vid in test_ids:
        keys = list(index.vehicles[vid].keys)
        rnd.shuffle(keys)
        seen: set[str] = set()
        pool = []
        for k in keys:
            cam = by_key[k].camera
            if cam not in seen:
                seen.add(cam)
                reserved.append(k)
            else:
                pool.append(k)
        pools.append(pool)
        total += len(keys)
    target = round(query_fraction * total)
    quota = _allot(target, [len(p) for p in pools], query_fraction, rnd)
    query: list[str] = []
    gallery: list[str] = list(reserved)
    for pool, q in zip(pools, quota):
        query.extend(pool[:q])
        gallery.extend(pool[q:])
    if not query:
        raise SplitError(
            f"split impossible: the {len(test_ids)} test vehicle(s) have no image to spare for the query "
            f"set (each needs one gallery image per camera first); use a larger --test-fraction or more data")
    query.sort(key=position.__getitem__)
    gallery.sort(key=position.__getitem__)
    return Split(
        name=name, seed=seed, protocol="vrai" if protocol == "vrai" else "release-holdout",
        test_fraction=fraction, query_fraction=query_fraction,
        train_vehicles=train_ids, test_vehicles=test_ids, train=train_keys, query=query, gallery=gallery,
        excluded_single_camera=excluded,
    )


def _allot(target: int, capacity: list[int], fraction: float, rnd: random.Random) -> list[int]:
    """Share ``target`` queries among vehicles in proportion to their size, within capacity.

    Largest remainder first, ties broken by the seeded generator, repeated until the
    target is met or every vehicle is full.
    """
    size = [c + 2 for c in capacity]  # capacity excludes the two reserved images
    ideal = [fraction * s for s in size]
    quota = [min(int(x), c) for x, c in zip(ideal, capacity)]
    left = target - sum(quota)
    while left > 0:
        open_ = [i for i, (q, c) in enumerate(zip(quota, capacity)) if q < c]
        if not open_:
            break
        tiebreak = {i: rnd.random() for i in open_}
        open_.sort(key=lambda i: (-(ideal[i] - quota[i]), tiebreak[i]))
        for i in open_[:left]:
            quota[i] += 1
        left = target - sum(quota)
    return quota


def write_split(ds: DatasetRoot, split: Split, *, force: bool = False) -> None:
    """Write ``splits/<name>.json`` atomically; an existing split is kept unless ``force``."""
    path = ds.split_path(split.name)
    if path.exists() and not force:
        raise SplitError(f"{path} already exists; pass --force to replace it")
    save_model(path, split)
