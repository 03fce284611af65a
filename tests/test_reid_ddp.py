"""Multi-process training through ``torchrun`` (DDP, gloo backend, CPU), end to end.

The test launches this very file under ``torchrun --standalone --nproc_per_node 2``; run as
a script, each rank trains the tiny config with light spies around the engine that record
what that rank did (its PK batches, its final weights, the features rank 0 gathered)
into a side folder, never into the run folder. The test then checks the run folder, that
both ranks trained on disjoint identities, that DDP kept them in step, that evaluation
gathered every rank's rows in order on rank 0, and that only rank 0 wrote or printed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RANKS = 2
P, K, BATCHES, EPOCHS = 3, 2, 3, 2


def tiny_config(root: Path) -> Any:
    from reid.config import TrainConfig

    return TrainConfig(root=str(root), split="s0", preset="multitask+dp", backbone="resnet18", size=64, epochs=EPOCHS,
                       batch_p=P, batch_k=K, batches_per_epoch=BATCHES, workers=0, eval_batch_size=8)


# --------------------------------------------------------------------------- the torchrun worker


def worker(root: Path, out: Path, spy: Path) -> None:
    import torch

    import reid.engine.fit as fit

    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    batches: list[dict[str, Any]] = []
    real_epoch, real_extract = fit.train_one_epoch, fit.extract_features

    def spy_epoch(model: Any, criterion: Any, loader: Any, optimizer: Any, **kw: Any) -> Any:
        def recorded() -> Any:
            for b in loader:
                batches.append({"epoch": kw["epoch"], "index": b["index"].tolist(), "label": b["label"].tolist()})
                yield b

        return real_epoch(model, criterion, recorded(), optimizer, **kw)

    calls = []

    def spy_extract(model: Any, items: Any, **kw: Any) -> Any:
        got = real_extract(model, items, **kw)
        calls.append(len(items))
        if len(calls) == 1:  # the query set: this rank's model as it evaluates
            torch.save(model.state_dict(), spy / f"rank{rank}.pt")
            if got is not None:
                np.savez(spy / "query_features.npz", **got)
        return got

    fit.train_one_epoch, fit.extract_features = spy_epoch, spy_extract  # type: ignore[assignment]
    result = fit.train(tiny_config(root), out)
    (spy / f"rank{rank}.json").write_text(json.dumps({
        "rank": rank, "world_size": int(os.environ["WORLD_SIZE"]), "epochs_done": result.epochs_done,
        "batches": batches, "extracted": calls}))


if __name__ == "__main__":
    worker(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
    sys.exit(0)


# --------------------------------------------------------------------------- the test

import pytest  # noqa: E402
import torch  # noqa: E402


pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch build has no torch.distributed")


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from .reid_fixtures import make_reid_dataset

    base = tmp_path_factory.mktemp("ddp")
    root = make_reid_dataset(base / "data", vehicles=12, frames=3)
    out, spy = base / "run", base / "spy"
    spy.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)  # torchrun sets its own
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={RANKS}",
           str(Path(__file__).resolve()), str(root), str(out), str(spy)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    return {"root": root, "out": out, "spy": spy, "log": log}


def test_torchrun_trains_end_to_end_and_only_rank_0_writes(ddp_run: dict[str, Any]) -> None:
    from reid.engine.checkpoint import load_checkpoint
    from reid.runs import RunDir

    run = RunDir(ddp_run["out"])
    assert sorted(p.name for p in run.path.iterdir()) == ["checkpoints", "config.json", "metrics.jsonl", "plots",
                                                         "report.md"]
    assert sorted(p.name for p in run.checkpoints.iterdir()) == ["best.pt", "last.pt"]  # no temp files left
    state = load_checkpoint(run.last)
    assert state["epoch"] == EPOCHS and state["sampler"]["world_size"] == RANKS
    for rank in range(RANKS):
        info = json.loads((ddp_run["spy"] / f"rank{rank}.json").read_text())
        assert (info["rank"], info["world_size"], info["epochs_done"]) == (rank, RANKS, EPOCHS)
    log = ddp_run["log"]
    assert f"x {RANKS} ranks" in log and "per rank" in log
    assert log.count(f"epoch {EPOCHS}/{EPOCHS} done") == 1  # only rank 0 speaks
    assert log.count("training multitask+dp") == 1


def test_ranks_train_on_disjoint_pk_batches(ddp_run: dict[str, Any]) -> None:
    from reid.runs import RunDir

    per_rank = [json.loads((ddp_run["spy"] / f"rank{r}.json").read_text())["batches"] for r in range(RANKS)]
    for batches in per_rank:
        assert len(batches) == EPOCHS * BATCHES
        for b in batches:
            assert len(b["index"]) == P * K and len(set(b["label"])) == P
    for a, b in zip(*per_rank):  # the same step on both ranks
        assert a["epoch"] == b["epoch"]
        assert not set(a["label"]) & set(b["label"])
    # The run's images per epoch count both ranks: twice what one rank trained on.
    epochs = [r for r in RunDir(ddp_run["out"]).read_metrics() if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == list(range(1, EPOCHS + 1))
    for rec in epochs:
        one_rank = sum(len(b["index"]) for b in per_rank[0] if b["epoch"] == rec["epoch"])
        assert one_rank == BATCHES * P * K
        assert rec["images"] == RANKS * one_rank


def test_ranks_stay_in_step_and_match_the_checkpoint(ddp_run: dict[str, Any]) -> None:
    from reid.engine.checkpoint import load_checkpoint
    from reid.runs import RunDir

    saved = load_checkpoint(RunDir(ddp_run["out"]).last)["model"]
    for rank in range(RANKS):
        state = torch.load(ddp_run["spy"] / f"rank{rank}.pt", weights_only=True)
        assert state.keys() == saved.keys()
        differ = [k for k in state if not torch.equal(state[k], saved[k])]
        assert differ == [], f"rank {rank} evaluates other weights/statistics than the checkpoint: {differ[:4]}"


def test_evaluation_is_gathered_on_rank_0_in_item_order(ddp_run: dict[str, Any]) -> None:
    from reid.engine.checkpoint import load_checkpoint
    from reid.engine.extract import extract_features
    from reid.engine.scoring import score_features
    from reid.engine.setup import load_data
    from reid.models import ModelSpec, ReidModel
    from reid.runs import RunDir

    torch.set_num_threads(1)
    run = RunDir(ddp_run["out"])
    state = load_checkpoint(run.last)
    model = ReidModel(ModelSpec(**state["spec"]))
    model.load_state_dict(state["model"])
    data = load_data(ddp_run["root"], "s0", parts="none", detections_file=None, crops="auto", size=64, train=False)
    assert data.query is not None and data.gallery is not None
    q = extract_features(model, data.query.items, size=64, device=torch.device("cpu"), batch_size=8)
    g = extract_features(model, data.gallery.items, size=64, device=torch.device("cpu"), batch_size=8)
    assert q is not None and g is not None
    gathered = dict(np.load(ddp_run["spy"] / "query_features.npz"))
    assert gathered.keys() == q.keys() and gathered["avg"].shape == (len(data.query.items), 512)
    for k in q:
        assert np.allclose(gathered[k], q[k], atol=1e-4), k
    ev = [r for r in run.read_metrics() if r["kind"] == "eval"]
    assert len(ev) == 1 and (ev[0]["num_query"], ev[0]["num_gallery"]) == (len(data.query.items),
                                                                           len(data.gallery.items))
    single = score_features(q, g, data.query.items, data.gallery.items, samples=0)
    assert single.rank is not None
    assert abs(ev[0]["mAP"] - single.rank.mAP) < 1e-6 and abs(ev[0]["cmc1"] - single.rank.cmc_at(1)) < 1e-6
