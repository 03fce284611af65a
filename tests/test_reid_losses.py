"""ReID losses against brute-force loops: batch-hard triplet, contrastive, smoothed CE, masked BCE."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from reid.config import TrainConfig
from reid.losses import (BatchHardMiner, ContrastiveLoss, MaskedBCEWithLogits, MaskedCrossEntropy, ReidCriterion,
                         TripletLoss, euclidean_distances)
from reid.presets import LOSS_NAMES, PRESETS, get_preset
from vrai_tools.errors import VraiToolsError


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)


def _dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a - b) ** 2).sum().clamp_min(1e-12).sqrt()


def brute_triplet(x: torch.Tensor, labels: list[int], margin: float) -> torch.Tensor:
    """For each anchor: farthest same-identity sample (itself, at 0, if it has none), closest other one."""
    terms = []
    for a in range(len(labels)):
        negs = [_dist(x[a], x[n]) for n in range(len(labels)) if labels[n] != labels[a]]
        if not negs:
            continue
        poss = [_dist(x[a], x[p]) for p in range(len(labels)) if labels[p] == labels[a] and p != a]
        hardest_pos = max(poss, key=lambda t: t.item()) if poss else x[a].sum() * 0.0
        hardest_neg = min(negs, key=lambda t: t.item())
        terms.append(torch.relu(hardest_pos - hardest_neg + margin))
    return torch.stack(terms).mean() if terms else x.sum() * 0.0


@pytest.mark.parametrize("labels", [
    [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3],  # a PK batch, P=4 x K=3
    [0, 1, 1, 2, 2, 2, 5],  # identities with a single image use themselves as the positive
])
def test_batch_hard_triplet_matches_a_brute_force_loop(labels: list[int]) -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(len(labels), 16, generator=g) * 3).requires_grad_(True)
    y = x.detach().clone().requires_grad_(True)
    lab = torch.tensor(labels)
    loss = TripletLoss()(x, lab)
    ref = brute_triplet(y, labels, 0.3)
    assert TripletLoss().margin == 0.3 and TrainConfig(root=".", split="s").triplet_margin == 0.3  # paper §5.1
    assert loss.item() > 0
    assert torch.allclose(loss, ref, atol=1e-5), (loss.item(), ref.item())
    loss.backward()
    ref.backward()
    assert x.grad is not None and y.grad is not None
    assert torch.allclose(x.grad, y.grad, atol=1e-5)


def test_triplet_margin_and_degenerate_batches() -> None:
    # Well separated identities: no loss at margin 0.3, but at a margin larger than the gap.
    x = torch.tensor([[0.0, 0.0], [0.0, 0.1], [5.0, 0.0], [5.0, 0.1]])
    lab = torch.tensor([0, 0, 1, 1])
    assert TripletLoss(0.3)(x, lab).item() == 0.0
    assert math.isclose(TripletLoss(10.0)(x, lab).item(), 0.1 - 5.0 + 10.0, rel_tol=1e-5)
    # One identity only: no triplet exists; zero, yet still attached to the graph.
    f = torch.randn(4, 3, requires_grad=True)
    loss = TripletLoss()(f, torch.zeros(4, dtype=torch.long))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert f.grad is not None and (f.grad == 0).all()
    # Identical features: distance 0 exactly enough, gradients finite.
    same = torch.ones(4, 8, requires_grad=True)
    d = euclidean_distances(same)
    assert d.max().item() < 1e-5
    TripletLoss()(same, lab).backward()
    assert same.grad is not None and torch.isfinite(same.grad).all()


def test_self_distance_is_zero_for_large_features() -> None:
    """The diagonal of the distance matrix must not pick up cancellation error (the
    singleton-anchor positive is documented as distance 0)."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 512, generator=g) * 20
    d = euclidean_distances(x)
    assert d.diagonal().max().item() < 1e-5
    brute = torch.cdist(x.double(), x.double()).float()
    off = ~torch.eye(8, dtype=torch.bool)
    assert torch.allclose(d[off], brute[off], rtol=1e-4)


def test_miner_works_without_gradients() -> None:
    x = torch.randn(6, 4, requires_grad=True)
    lab = torch.tensor([0, 0, 1, 1, 2, 2])
    d = euclidean_distances(x)
    pos, neg, valid = BatchHardMiner()(d, lab)
    assert not pos.requires_grad and valid.all()
    for a in range(6):
        same = [j for j in range(6) if lab[j] == lab[a]]
        other = [j for j in range(6) if lab[j] != lab[a]]
        assert pos[a].item() == max(same, key=lambda j: d[a, j].item())
        assert neg[a].item() == min(other, key=lambda j: d[a, j].item())


def brute_contrastive(x: torch.Tensor, labels: list[int], margin: float) -> torch.Tensor:
    x = x / x.norm(dim=1, keepdim=True)
    pos, neg = [], []
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            d = _dist(x[i], x[j])
            (pos if labels[i] == labels[j] else neg).append(d ** 2 if labels[i] == labels[j] else torch.relu(margin - d) ** 2)
    return torch.stack(pos).mean() + torch.stack(neg).mean()


def test_contrastive_matches_a_brute_force_loop() -> None:
    g = torch.Generator().manual_seed(2)
    labels = [0, 0, 1, 1, 1, 2, 2, 3]
    x = torch.randn(len(labels), 10, generator=g)
    for margin in (1.0, 1.6):
        got = ContrastiveLoss(margin)(x, torch.tensor(labels))
        ref = brute_contrastive(x, labels, margin)
        assert torch.allclose(got, ref, atol=1e-5), (margin, got.item(), ref.item())
    # Normalised: the scale of the features does not matter.
    assert torch.allclose(ContrastiveLoss()(x * 50, torch.tensor(labels)), ContrastiveLoss()(x, torch.tensor(labels)),
                          atol=1e-5)
    # Only negatives (all different), only positives (one identity): each half alone.
    orthogonal = torch.eye(3, 10) * 7.0  # unit vectors once normalised: every pair at sqrt(2)
    assert ContrastiveLoss(1.0)(orthogonal, torch.tensor([0, 1, 2])).item() == 0.0  # beyond the margin
    assert math.isclose(ContrastiveLoss(2.0)(orthogonal, torch.tensor([0, 1, 2])).item(), (2 - math.sqrt(2)) ** 2,
                        rel_tol=1e-5)
    f = torch.randn(3, 10, requires_grad=True)
    only_pos = ContrastiveLoss()(f, torch.tensor([4, 4, 4]))
    only_pos.backward()
    assert only_pos.item() > 0 and f.grad is not None


def test_cross_entropy_with_label_smoothing() -> None:
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(5, 7, generator=g)
    target = torch.tensor([0, 3, -1, 6, 2])
    eps = 0.1
    logp = logits.log_softmax(dim=1)
    rows = [i for i in range(5) if target[i] >= 0]
    manual = sum(-(1 - eps) * logp[i, target[i]] - eps * logp[i].mean() for i in rows) / len(rows)
    got = MaskedCrossEntropy(eps)(logits, target)
    assert torch.allclose(got, manual, atol=1e-6)
    assert not torch.allclose(MaskedCrossEntropy(0.0)(logits, target), manual, atol=1e-3)  # smoothing matters
    # Nothing labelled: zero with a (zero) gradient path.
    lg = torch.randn(3, 7, requires_grad=True)
    zero = MaskedCrossEntropy(eps)(lg, torch.full((3,), -1))
    zero.backward()
    assert zero.item() == 0.0 and lg.grad is not None and (lg.grad == 0).all()


def test_masked_bce_counts_only_labelled_flags() -> None:
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(3, 4, generator=g)
    target = torch.tensor([[1, 0, -1, 1], [-1, -1, 0, 1], [0, 0, 0, -1]])
    terms = [F.binary_cross_entropy_with_logits(logits[i, j], target[i, j].float())
             for i in range(3) for j in range(4) if target[i, j] >= 0]
    manual = torch.stack(terms).mean()
    assert torch.allclose(MaskedBCEWithLogits()(logits, target), manual, atol=1e-6)
    # Changing an unlabelled logit changes nothing.
    moved = logits.clone()
    moved[target < 0] += 100.0
    assert torch.allclose(MaskedBCEWithLogits()(moved, target), manual, atol=1e-6)
    assert MaskedBCEWithLogits()(logits, torch.full((3, 4), -1)).item() == 0.0


def test_criterion_sums_the_preset_terms_with_their_weights() -> None:
    g = torch.Generator().manual_seed(5)
    n = 6
    out = {"feat": torch.randn(n, 8, generator=g), "neck": torch.randn(n, 8, generator=g),
           "id": torch.randn(n, 3, generator=g), "color": torch.randn(n, 9, generator=g),
           "type": torch.randn(n, 7, generator=g), "flags": torch.randn(n, 4, generator=g),
           "weighted_feat": torch.randn(n, 8, generator=g)}
    batch = {"label": torch.tensor([0, 0, 1, 1, 2, 2]), "color": torch.tensor([1, 1, 2, 2, -1, -1]),
             "type": torch.tensor([0, 0, 3, 3, 6, 6]), "flags": torch.randint(-1, 2, (n, 4), generator=g)}
    preset = get_preset("multitask+dp")
    crit = ReidCriterion(preset.weights({"id": 0.5}), triplet_margin=0.3)
    total, parts = crit(out, batch)
    assert list(parts) == ["triplet", "id", "color", "type", "flags", "triplet_weighted"]
    expect = sum(v for k, v in parts.items() if k != "id") + 0.5 * parts["id"]
    assert torch.allclose(total, expect)
    assert torch.allclose(parts["triplet"], TripletLoss(0.3)(out["feat"], batch["label"]))
    assert torch.allclose(parts["triplet_weighted"], TripletLoss(0.3)(out["weighted_feat"], batch["label"]))
    assert torch.allclose(parts["id"], MaskedCrossEntropy(0.1)(out["id"], batch["label"]))  # ID: smoothing 0.1
    assert torch.allclose(parts["color"], MaskedCrossEntropy(0.0)(out["color"], batch["color"]))
    for name, p in PRESETS.items():
        assert set(p.losses) <= set(LOSS_NAMES) and p.losses, name
    with pytest.raises(VraiToolsError, match="preset 'triplet' has no 'id' loss"):
        get_preset("triplet").weights({"id": 1.0})
    with pytest.raises(ValueError, match="unknown loss"):
        TrainConfig(root=".", split="s", loss_weights={"arcface": 1.0})
    no_w = dict(out)
    del no_w["weighted_feat"]
    with pytest.raises(ValueError, match="triplet_weighted needs the weighted feature"):
        crit(no_w, batch)
