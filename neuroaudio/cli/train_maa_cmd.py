"""`neuroaudio train maa` (old name `train ssl`, kept for one release): train the MAA network."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    def train_maa(
        config: Path = typer.Option(..., "--config", "-c",
                                    help="Pipeline YAML, e.g. pipelines/maa.yaml."),
        overrides: list[str] = typer.Option([], "--set", help="Override a config value: SECTION.KEY=VALUE "
                                            "(YAML), e.g. --set train.epochs=5 --set model.stm=false."),
        resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue from OUT_DIR/last.pt."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    ) -> None:
        """Train the MAA spiking sound-localization network (RF-PLC spikes → 360 one-degree bins).

        Simulates and encodes the clips (cached as .npz shards under data.cache_dir, or on the fly),
        then trains; writes OUT_DIR/model.pt (lowest validation MAE), last.pt (resume), log.csv,
        curve.png, metrics.json. Data-parallel without changes: torchrun --nproc_per_node 2 cli.py
        train maa --config ...

        Example: neuroaudio train maa --config pipelines/maa.yaml --set train.epochs=5

        Example (ablation): neuroaudio train maa -c pipelines/maa.yaml --set model.fsja=false
        --set out_dir=runs/maa_nofsja
        """
        from ..maa.config import load_pipeline, parse_set
        from ..maa.train import train
        from ..train.distributed import cleanup

        cfg = load_pipeline(config, parse_set(overrides))
        res = train(cfg, resume=resume, progress=not quiet)
        cleanup(res["dist"])
        if res["dist"].is_main:
            m = res["metrics"]
            typer.echo(f"best epoch {m.get('epoch')}: validation MAE {m['val_mae']:.2f} deg per frame, "
                       f"{m['val_clip_mae']:.2f} deg per clip, ACC@5 {100 * m['val_acc5']:.1f}%, "
                       f"ACC@10 {100 * m['val_acc10']:.1f}%; model in {res['out_dir']}/model.pt")

    groups["train"].command("maa")(train_maa)
    groups["train"].command("ssl", hidden=True,
                            help="Old name of `train maa` (kept for one release).")(train_maa)
