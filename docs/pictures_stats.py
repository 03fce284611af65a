"""README pictures of ``vrai-tools stats``: the paper's Figure 3 and Figure 4 for a synthetic dataset.

    .venv/bin/python docs/pictures_stats.py OUT_DIR

Exactly what a user gets from::

    vrai-tools synth stats-demo --no-video --pairs 10 --vehicles-per-pair 60 --seconds 60 --seed 0
    vrai-tools stats stats-demo --out stats-demo-stats

(metadata only: the statistics need no pixels), copied to OUT_DIR as ``stats_figure3.png``
and ``stats_figure4.png``.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

from vrai_tools.cli import cli


def main(out: Path) -> None:
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp:
        root, stats = Path(tmp) / "stats-demo", Path(tmp) / "stats-demo-stats"
        for args in (["synth", str(root), "--no-video", "--pairs", "10", "--vehicles-per-pair", "60",
                      "--seconds", "60", "--seed", "0", "-q"],
                     ["stats", str(root), "--out", str(stats), "-q"]):
            result = runner.invoke(cli, args, catch_exceptions=False)
            if result.exit_code:
                raise SystemExit(f"vrai-tools {' '.join(args)}: {result.output}")
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stats / "figure3_attributes.png", out / "stats_figure3.png")
        shutil.copyfile(stats / "figure4_bbox_resolution.png", out / "stats_figure4.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "img")
