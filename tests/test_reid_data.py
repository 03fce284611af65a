"""ReID data: what a sample carries, PK sampling, and the box-aware training transforms."""
from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader
from torchvision import tv_tensors
from torchvision.transforms import v2

from reid.data import (PKSampler, RandomRightAngleRotation, ReidDataset, SamplingError, SeededBatches, collate,
                       eval_transforms, train_transforms)
from reid.engine.setup import load_data
from reid.losses import MaskedBCEWithLogits, MaskedCrossEntropy
from schemas import COLORS, FLAGS, TYPES
from vrai_tools.crops import make_crops
from vrai_tools.errors import VraiToolsError

from .reid_fixtures import make_reid_dataset

SIZE = 64


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)  # 2 shared cores: OpenMP spinning with 2 threads under load is 10x slower


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_reid_dataset(tmp_path_factory.mktemp("reid"), vehicles=12, frames=3)


@pytest.fixture(scope="module")
def train_items(root: Path):  # type: ignore[no-untyped-def]
    data = load_data(root, "s0", parts="ground-truth", detections_file=None, crops="auto", size=SIZE, test=False)
    assert data.train is not None
    return data.train


def bright(image: torch.Tensor) -> torch.Tensor:
    """(H, W) mask of the white mark's pixels (vehicle paints all have a channel below 200)."""
    return (image > 200).all(dim=0)


def assert_box_covers_mark(image: torch.Tensor, box: torch.Tensor) -> None:
    mark = bright(image)
    ys, xs = torch.nonzero(mark, as_tuple=True)
    assert len(xs) > 20, "no mark in the crop"
    x1, y1, x2, y2 = box.tolist()
    inside = (xs + 0.5 >= x1 - 1) & (xs + 0.5 <= x2 + 1) & (ys + 0.5 >= y1 - 1) & (ys + 0.5 <= y2 + 1)
    assert inside.float().mean() > 0.95, (box.tolist(), xs.min().item(), xs.max().item(), ys.min().item(), ys.max().item())
    cx, cy = xs.float().mean() + 0.5, ys.float().mean() + 0.5
    assert x1 <= cx <= x2 and y1 <= cy <= y2
    assert (x2 - x1) * (y2 - y1) < 0.5 * mark.numel()  # a part box, not the whole crop


# --------------------------------------------------------------------------- the dataset


def test_sample_carries_crop_identity_camera_attributes_and_parts(train_items) -> None:  # type: ignore[no-untyped-def]
    ds = ReidDataset(train_items.items, eval_transforms(SIZE))
    assert len(ds) == 6 * 2 * 3  # 6 train vehicles x 2 cameras x 3 frames
    s = ds[0]
    item = train_items.items[0]
    assert s["image"].dtype == torch.uint8 and s["image"].shape == (3, SIZE, SIZE)  # normalised by the model only
    assert type(s["image"]) is torch.Tensor  # plain tensors leave the dataset (tv_tensors stay inside)
    assert (s["pid"], s["label"], s["index"]) == (0, 0, 0)
    # Vehicle 0 of the fixture: Red, TYPES[0]; skylight, bumper and spare tire set; luggage rack unset.
    assert s["color"] == COLORS.index("Red") and s["type"] == TYPES.index(TYPES[0])
    assert s["flags"] == (1, 1, 1, -1)
    # The crop is vehicle 0: mostly red paint.
    r, g, b = (s["image"].float().mean(dim=(1, 2)) / 255).tolist()
    assert r > 0.5 and r > 2 * g and r > 2 * b
    assert s["parts"].shape == (1, 4)
    assert_box_covers_mark(s["image"], s["parts"][0])
    # Cameras: both clips of the pair appear, with different dense camera ids.
    by_cam = {it.camid for it in train_items.items if it.pid == 0}
    assert len(by_cam) == 2 and {train_items.cameras[c] for c in by_cam} == {"p1-A", "p1-B"}
    assert item.label == 0 and sorted(train_items.train_ids) == list(range(6))
    # Every sample of every vehicle: its label, the box over its mark.
    for i in range(0, len(ds), 5):
        si = ds[i]
        assert si["label"] == train_items.items[i].label == si["pid"]
        assert_box_covers_mark(si["image"], si["parts"][0])


def test_unset_attributes_are_masked_out_of_their_losses(train_items) -> None:  # type: ignore[no-untyped-def]
    items = list(train_items.items[:4])
    items[1] = dataclasses.replace(items[1], color=-1, type=-1)  # colour and type not annotated yet
    ds = ReidDataset(items, eval_transforms(32))
    batch = collate([ds[i] for i in range(4)])
    assert batch["flags"].shape == (4, len(FLAGS)) and batch["flags"].dtype == torch.long
    assert (batch["flags"][:, FLAGS.index("luggage_rack")] == -1).any()  # the fixture leaves some unset
    assert batch["color"][1] == -1 and batch["type"][1] == -1

    flags = torch.randn(4, 4, requires_grad=True)
    MaskedBCEWithLogits()(flags, batch["flags"]).backward()
    assert flags.grad is not None
    unset = batch["flags"] < 0
    assert (flags.grad[unset] == 0).all() and (flags.grad[~unset] != 0).all()

    for name, n in (("color", len(COLORS)), ("type", len(TYPES))):
        logits = torch.randn(4, n, requires_grad=True)
        MaskedCrossEntropy()(logits, batch[name]).backward()
        assert logits.grad is not None
        assert (logits.grad[1] == 0).all() and (logits.grad[[0, 2, 3]].abs().sum(dim=1) > 0).all()


def test_collate_pads_part_boxes_with_a_mask(train_items) -> None:  # type: ignore[no-untyped-def]
    items = [train_items.items[0], dataclasses.replace(train_items.items[1], parts=()),
             dataclasses.replace(train_items.items[2], parts=train_items.items[2].parts * 2)]
    ds = ReidDataset(items, eval_transforms(32))
    batch = collate([ds[i] for i in range(3)])
    assert batch["parts"].shape == (3, 2, 4)
    assert batch["parts_mask"].tolist() == [[True, False], [False, False], [True, True]]
    assert batch["image"].shape == (3, 3, 32, 32) and batch["image"].dtype == torch.uint8
    for name in ("index", "label", "pid", "camid", "color", "type"):
        assert batch[name].dtype == torch.long and batch[name].shape == (3,)


def test_scaled_crop_files_give_the_same_part_boxes(root: Path, tmp_path: Path) -> None:
    """Crops read from ``crops/s<N>`` (scaled files) put the boxes where the frame cut does."""
    import shutil

    copy = tmp_path / "ds"
    shutil.copytree(root, copy)
    make_crops(copy, 96, workers=1)
    data = load_data(copy, "s0", parts="ground-truth", detections_file=None, crops="auto", size=SIZE, test=False)
    assert data.train is not None and data.train.crops == "s96"
    assert all(not it.from_frame for it in data.train.items)
    from_frames = ReidDataset(train_items_of(root), eval_transforms(SIZE))
    from_files = ReidDataset(data.train.items, eval_transforms(SIZE))
    for i in (0, 7, 20):
        a, b = from_frames[i], from_files[i]
        assert torch.allclose(a["parts"], b["parts"], atol=1.0), (a["parts"], b["parts"])
        assert_box_covers_mark(b["image"], b["parts"][0])


def train_items_of(root: Path):  # type: ignore[no-untyped-def]
    data = load_data(root, "s0", parts="ground-truth", detections_file=None, crops="frames", size=SIZE, test=False)
    assert data.train is not None
    return data.train.items


def test_seeded_samples_repeat_and_leave_the_global_generator_alone(train_items) -> None:  # type: ignore[no-untyped-def]
    ds = ReidDataset(train_items.items, train_transforms(SIZE, rotate_p=0.5, hflip_p=0.5))
    state = torch.get_rng_state()
    a, b = ds[(3, 1234)], ds[(3, 1234)]
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["parts"], b["parts"])
    images = {ds[(3, s)]["image"].numpy().tobytes() for s in range(12)}
    assert len(images) > 1  # different seeds, different augmentations


# --------------------------------------------------------------------------- transforms


def _identify(out: torch.Tensor, base: torch.Tensor) -> tuple[int, bool]:
    """Which right-angle rotation (k quarter turns, counter-clockwise) and flip turn ``base`` into ``out``."""
    for k in range(4):
        for flip in (False, True):
            cand = torch.rot90(base, k, dims=(1, 2))
            if flip:
                cand = cand.flip(-1)
            if cand.shape == out.shape and torch.equal(cand, out):
                return k, flip
    raise AssertionError("output is not a right-angle rotation / flip of the resized input")


def test_rotations_and_flips_move_the_part_boxes_with_the_image(train_items) -> None:  # type: ignore[no-untyped-def]
    plain = ReidDataset(train_items.items, eval_transforms(SIZE))[5]
    assert_box_covers_mark(plain["image"], plain["parts"][0])
    aug = ReidDataset(train_items.items, train_transforms(SIZE, rotate_p=1.0, hflip_p=0.5))
    x1, y1, x2, y2 = plain["parts"][0].tolist()
    seen = set()
    for seed in range(60):
        s = aug[(5, seed)]
        k, flip = _identify(s["image"], plain["image"])
        seen.add((k, flip))
        assert k in (1, 2, 3)  # rotate_p=1: always rotated
        assert s["image"].shape == (3, SIZE, SIZE)
        assert_box_covers_mark(s["image"], s["parts"][0])
        # The box is the exact image of the original box under the same map.
        box = (x1, y1, x2, y2)
        for _ in range(k):  # a counter-clockwise quarter turn: (x, y) -> (y, S - x)
            bx1, by1, bx2, by2 = box
            box = (by1, SIZE - bx2, by2, SIZE - bx1)
        if flip:
            bx1, by1, bx2, by2 = box
            box = (SIZE - bx2, by1, SIZE - bx1, by2)
        assert torch.allclose(s["parts"][0], torch.tensor(box), atol=1e-4), (k, flip, s["parts"][0], box)
        if len(seen) == 6:
            break
    assert seen == {(k, f) for k in (1, 2, 3) for f in (False, True)}


def test_training_transform_probabilities() -> None:
    t = train_transforms(SIZE)
    kinds = [type(x) for x in t.transforms]
    assert kinds == [v2.Resize, RandomRightAngleRotation, v2.RandomHorizontalFlip, v2.ClampBoundingBoxes]
    assert t.transforms[0].size == [SIZE, SIZE]
    assert t.transforms[1].p == 0.2 and t.transforms[2].p == 0.5  # paper §5.1
    # Drawn frequencies: rotated 20 % of the time, the three angles equally often; flipped half the time.
    base = torch.arange(4 * 4, dtype=torch.uint8).reshape(1, 4, 4).expand(3, 4, 4).contiguous()
    sample = {"image": tv_tensors.Image(base),
              "parts": tv_tensors.BoundingBoxes(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), format="XYXY", canvas_size=(4, 4))}
    small = train_transforms(4)
    torch.manual_seed(0)
    counts: Counter[tuple[int, bool]] = Counter()
    n = 2000
    for _ in range(n):
        counts[_identify(small(sample)["image"], base)] += 1
    rotated = sum(c for (k, _), c in counts.items() if k)
    flipped = sum(c for (_, f), c in counts.items() if f)
    assert abs(rotated / n - 0.2) < 0.03
    assert abs(flipped / n - 0.5) < 0.035
    for k in (1, 2, 3):
        per = sum(c for (kk, _), c in counts.items() if kk == k)
        assert abs(per / rotated - 1 / 3) < 0.06
    with pytest.raises(ValueError, match="p must be in"):
        RandomRightAngleRotation(1.5)


def test_eval_transform_is_resize_only(train_items) -> None:  # type: ignore[no-untyped-def]
    ds = ReidDataset(train_items.items, eval_transforms(48))
    a, b = ds[2], ds[2]
    assert a["image"].shape == (3, 48, 48) and torch.equal(a["image"], b["image"])
    # Non-square crop (44 x 30) squashed to 48 x 48: boxes scale per axis.
    assert_box_covers_mark(a["image"], a["parts"][0])


# --------------------------------------------------------------------------- PK sampling


def _labels(n_ids: int, per: int) -> list[int]:
    return [i for i in range(n_ids) for _ in range(per)]


def _epoch(sampler: PKSampler, epoch: int) -> list[list[int]]:
    sampler.set_epoch(epoch)
    return list(sampler)


def test_pk_batches_hold_p_identities_of_k_images() -> None:
    labels = _labels(10, 5)
    s = PKSampler(labels, 3, 4, seed=1)
    assert len(s) == len(labels) // 12
    batches = _epoch(s, 0)
    assert len(batches) == len(s)
    for b in batches:
        assert len(b) == 12
        per = Counter(labels[i] for i in b)
        assert len(per) == 3 and set(per.values()) == {4}
        for ident in per:  # the K images of an identity are distinct when it has at least K
            assert len({i for i in b if labels[i] == ident}) == 4
    # Images of an identity are cycled through evenly (each once per pass over them).
    s.batches_per_epoch = 40
    uses = Counter(i for b in _epoch(s, 1) for i in b)
    for ident in range(10):
        counts = [uses[i] for i in range(5 * ident, 5 * ident + 5)]
        assert max(counts) - min(counts) <= 1, counts
    # Fewer than K images: repeats fill the K slots.
    few = [0, 0, 1, 1, 2, 2, 3]
    for b in PKSampler(few, 2, 4, batches_per_epoch=5):
        per = Counter(few[i] for i in b)
        assert len(per) == 2 and set(per.values()) == {4}


def test_pk_sampler_visits_identities_evenly() -> None:
    labels = _labels(12, 3)
    s = PKSampler(labels, 3, 2, seed=0, batches_per_epoch=8)
    seen = Counter(labels[i] for b in _epoch(s, 0) for i in b[::2])  # one entry per (batch, identity)
    assert set(seen.values()) == {2}  # 8 batches x 3 ids = 2 full passes over 12 ids


def test_pk_sampler_is_seeded_per_epoch() -> None:
    labels = _labels(8, 6)
    a, b = PKSampler(labels, 4, 2, seed=7), PKSampler(labels, 4, 2, seed=7)
    e1 = _epoch(a, 1)
    assert e1 == _epoch(b, 1)  # same seed, same epoch: same batches
    assert e1 != _epoch(a, 2)  # another epoch: other batches
    assert _epoch(a, 1) == e1  # the epoch is the whole state
    assert _epoch(PKSampler(labels, 4, 2, seed=8), 1) != e1  # another seed: other batches
    state = a.state_dict()
    c = PKSampler(labels, 4, 2, seed=7)
    c.load_state_dict(state)
    assert c.epoch == a.epoch and list(c) == list(a)
    with pytest.raises(SamplingError, match="sampler state has seed=7, this run has 9"):
        PKSampler(labels, 4, 2, seed=9).load_state_dict(state)


def test_pk_sampler_refuses_what_cannot_be_met() -> None:
    with pytest.raises(SamplingError, match=r"P=5 needs 5 identities per step but the training set has 4"):
        PKSampler(_labels(4, 3), 5, 2)
    with pytest.raises(SamplingError, match=r"P=3 x 2 ranks needs 6 identities per step but the training set has 5"):
        PKSampler(_labels(5, 3), 3, 2, rank=0, world_size=2)
    with pytest.raises(SamplingError, match="P and K must be at least 1"):
        PKSampler(_labels(4, 3), 2, 0)
    with pytest.raises(SamplingError, match="item 2 has no identity label"):
        PKSampler([0, 0, -1, 1, 1], 2, 2)
    with pytest.raises(SamplingError, match="rank 2 is outside world size 2"):
        PKSampler(_labels(4, 3), 2, 2, rank=2, world_size=2)
    assert issubclass(SamplingError, VraiToolsError)  # the CLI shows it as one line


def test_pk_sampler_shards_identities_disjointly_across_ranks() -> None:
    labels = _labels(9, 4)
    ranks = [PKSampler(labels, 2, 3, seed=3, rank=r, world_size=3) for r in range(3)]
    assert len({len(s) for s in ranks}) == 1 and len(ranks[0]) == len(labels) // (2 * 3 * 3)
    for epoch in (0, 1):
        per_rank = [_epoch(s, epoch) for s in ranks]
        for step in zip(*per_rank):
            ids = [{labels[i] for i in b} for b in step]
            assert all(len(b) == 6 and len(i) == 2 for b, i in zip(step, ids))
            assert len(set().union(*ids)) == 6  # no identity on two ranks at the same step
    # Same per-rank batches when built again (every rank can compute its share alone).
    again = PKSampler(labels, 2, 3, seed=3, rank=1, world_size=3)
    assert _epoch(again, 1) == _epoch(ranks[1], 1)


def test_seeded_batches_attach_a_stable_augmentation_seed() -> None:
    labels = _labels(6, 4)
    a = SeededBatches(PKSampler(labels, 2, 2, seed=5), 5)
    b = SeededBatches(PKSampler(labels, 2, 2, seed=5), 5)
    a.set_epoch(1)
    b.set_epoch(1)
    ea, eb = list(a), list(b)
    assert ea == eb
    seeds = [s for batch in ea for _, s in batch]
    assert len(set(seeds)) == len(seeds)  # one per (step, position)
    a.set_epoch(2)
    assert [s for batch in a for _, s in batch] != seeds


def test_loader_batches_do_not_depend_on_worker_count(train_items) -> None:  # type: ignore[no-untyped-def]
    ds = ReidDataset(train_items.items, train_transforms(32, rotate_p=0.5))
    out = []
    for workers in (0, 1):
        batches = SeededBatches(PKSampler(train_items.labels, 2, 2, seed=0, batches_per_epoch=2), 0)
        batches.set_epoch(3)
        loader = DataLoader(ds, batch_sampler=batches, num_workers=workers, collate_fn=collate)  # type: ignore[arg-type]
        out.append([(b["index"], b["image"], b["parts"]) for b in loader])
    for (ia, xa, pa), (ib, xb, pb) in zip(*out):
        assert torch.equal(ia, ib) and torch.equal(xa, xb) and torch.equal(pa, pb)
