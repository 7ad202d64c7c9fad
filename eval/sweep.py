"""Closed-loop sweeps as a Hydra multirun: checkpoints × seeds × suites, locally or on a cluster.

    python -m eval.sweep --multirun policy=scripted,replay_core seed=0,1000 suite=bottle_2025 \
        episodes=100 hydra/launcher=joblib hydra.launcher.n_jobs=2
    python -m eval.sweep --multirun policy=ckpt_a,ckpt_b seed=0,1000,2000 \
        hydra/launcher=submitit_slurm hydra.launcher.partition=gpu hydra.launcher.gpus_per_node=1

Each job writes an ordinary closed-loop run directory (``results.json``, report) into its Hydra job
folder (``runs/sweep/<date>_<time>/<job>/``); ``python -m eval.compare --runs runs/sweep/<date>_<time>``
merges them into one comparison report. ``hydra/launcher=submitit_slurm`` needs the ``slurm`` extra
(``pip install -e '.[slurm]'``).
"""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from common.paths import CONFIG_DIR
from eval.closed_loop import finalize_config, run
from eval.summary import format_summary


@hydra.main(config_path=str(CONFIG_DIR), config_name="closed_loop", version_base=None)
def sweep_job(cfg: DictConfig) -> float:
    """One job of the sweep; returns its success rate (Hydra sweepers can optimise it)."""
    hydra_cfg = HydraConfig.get()
    cfg = finalize_config(cfg, str(hydra_cfg.runtime.choices.policy))
    cfg.progress = False
    results = run(cfg, out=hydra_cfg.runtime.output_dir)
    print(format_summary(results))
    return float(results["summary"]["success_rate"])


if __name__ == "__main__":
    sweep_job()
