"""`neuroaudio train gcc-phat-sm`: train the GCC-PHAT-SM localizer (or its unmasked ablation)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @groups["train"].command("gcc-phat-sm")
    def train_gcc_phat_sm(
        config: Path = typer.Option(..., "--config", "-c",
                                    help="Pipeline YAML, e.g. pipelines/gcc_phat_sm.yaml."),
        overrides: list[str] = typer.Option(
            [], "--set", help="Override a config value: SECTION.KEY=VALUE (YAML), e.g. --set "
            "train.epochs=5 --set train.mask_training=irm."),
        resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue from OUT_DIR/last.pt."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    ) -> None:
        """Train GCC-PHAT-SM: a speech mask on the PHAT cross-spectra + an MLP → 360 one-degree bins.

        Simulates the clips once (speech image and noise apart, for the ideal ratio mask) into
        .npz shards under data.cache_dir, then trains; writes OUT_DIR/model.pt (lowest validation
        clip MAE), last.pt (resume), log.csv, curve.png, metrics.json. Use the model with
        `neuroaudio localize FILE --method gcc-phat-sm --model OUT_DIR/model.pt`.

        Example: neuroaudio train gcc-phat-sm --config pipelines/gcc_phat_sm.yaml

        Example (the unmasked ablation, method gcc-phat-mlp): neuroaudio train gcc-phat-sm
        -c pipelines/gcc_phat_sm.yaml --set model.use_mask=false --set out_dir=runs/gcc_phat_sm/mlp

        Example (mask trained only from the IRM): neuroaudio train gcc-phat-sm -c
        pipelines/gcc_phat_sm.yaml --set train.mask_training=irm --set out_dir=runs/gcc_phat_sm/irm
        """
        from ..gcc_phat_sm.config import load_pipeline, parse_set
        from ..gcc_phat_sm.train import train
        from ..train.distributed import cleanup

        cfg = load_pipeline(config, parse_set(overrides))
        res = train(cfg, resume=resume, progress=not quiet)
        cleanup(res["dist"])
        if res["dist"].is_main:
            m = res["metrics"]
            typer.echo(f"best epoch {m.get('epoch')}: validation MAE {m['val_clip_mae']:.2f} deg per clip, "
                       f"{m['val_mae']:.2f} deg per frame, ACC@5 {100 * m['val_acc5']:.1f}%, "
                       f"ACC@10 {100 * m['val_acc10']:.1f}% per frame; model in {res['out_dir']}/model.pt")
