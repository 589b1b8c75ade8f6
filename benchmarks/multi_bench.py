"""Several talkers at once (issue 22): file-level sources, tracks with identities, and speed.

    OMP_NUM_THREADS=1 python -m benchmarks.multi_bench                 # pipelines/multi_bench.yaml
    OMP_NUM_THREADS=1 python -m benchmarks.multi_bench --clips 4       # a quick look

Scenes (neuroaudio/sim/multi.py, cached under ``runs/multi_bench/clips_<hash of the scene settings>``):
two and three talkers speaking at once, standing still (3 s), and two talkers walking around the
array (10 s), at 20 dB per talker, RT60 0.2-0.5 s, at least 30 deg apart.

Figures, per method and ``--sources`` setting:

- static scenes: the share of clips with *every* talker within 10 deg of a reported source under
  the optimal one-to-one assignment (``all10``), the mean assigned error, recall and precision at
  10 deg over all talkers and reported sources, and the mean number of sources reported;
- pyroomacoustics MUSIC / NormMUSIC on the whole clip (32-ms STFT, 500-4000 Hz, ``num_src`` = the
  true count) beside them;
- moving scenes, with the tracker (``--sources`` peaks per frame): OSPA (cutoff 30 deg, order 1)
  between the true directions and the confirmed tracks per frame, identity switches per minute,
  and recall of the talkers by tracks at 10 deg;
- the main output's switches per second between live tracks on the two-talker scenes: with the
  tracker's hysteresis, and with the naive rule "the track nearest the frame's strongest peak";
- the localizer's real-time factor on one core (CPU time / audio time) with ``sources=3``.

Results: a markdown table on stdout and ``runs/multi_bench/results.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent


def _clip(path: Path, make) -> np.ndarray:
    if path.exists():
        return np.load(path)
    x = make()
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, x)
    os.replace(tmp, path)
    return x


def scenes(cfg: dict, root: Path, clips: int | None):
    """``{"static2": [(scene, x)], "static3": [...], "moving": [...]}`` (rendered once, cached)."""
    from neuroaudio.sim.multi import plan_scene, render_scene

    out = {}
    st = cfg["static"]
    for t in st["talkers"]:
        lst = []
        for i in range(clips or st["clips"]):
            sc = plan_scene(i, t, seed=cfg["seed"] + t, duration_s=st["duration_s"], snr_db=st["snr_db"],
                            rt60_s=tuple(st["rt60_s"]), min_sep_deg=st["min_sep_deg"])
            lst.append((sc, _clip(root / f"static{t}_{i}.npy", lambda sc=sc: render_scene(sc, cfg["array"]))))
        out[f"static{t}"] = lst
    mv = cfg["moving"]
    lst = []
    for i in range(min(clips or mv["clips"], mv["clips"])):
        sc = plan_scene(i, mv["talkers"], seed=cfg["seed"] + 100, duration_s=mv["duration_s"],
                        snr_db=mv["snr_db"], rt60_s=tuple(mv["rt60_s"]), min_sep_deg=mv["min_sep_deg"],
                        speed_deg_s=tuple(mv["speed_deg_s"]))
        lst.append((sc, _clip(root / f"moving_{i}.npy", lambda sc=sc: render_scene(sc, cfg["array"]))))
    out["moving"] = lst
    return out


def _track(frames, hop_s: float, multi: bool):
    """Run a fresh tracker (the live one) over frame estimates; yield (frame, tracker) after each step."""
    from neuroaudio.live.session import track_frame
    from neuroaudio.tracking import make_tracker

    tr = make_tracker(hop_s, multi)
    for fr in frames:
        track_frame(tr, fr)
        yield fr, tr


def _switch_rates(frames, duration_s: float, loc) -> tuple[float, float]:
    """(hysteresis switches /s, naive-rule switches /s) of the main output between live tracks."""
    naive, last = 0, None
    tr = None
    for fr, tr in _track(frames, loc.hop / loc.fs, loc.multi):
        conf = tr.confirmed()
        if fr.active and conf:
            near = min(conf, key=lambda t: abs((t.azimuth_deg - fr.azimuth_deg + 180) % 360 - 180))
            alive = {t.track_id for t in conf}
            if last is not None and near.track_id != last and last in alive:
                naive += 1
            last = near.track_id
    return (tr.switches if tr else 0) / duration_s, naive / duration_s


def method_spec(spec: str) -> tuple[str, dict]:
    """``"gcc-phat"`` or ``"gcc-phat+tf_histogram"`` / ``"gcc-phat+key=value+..."`` (a method with
    options, as ``--set key=value``; a bare key is ``True``) → (method, options)."""
    from neuroaudio.cli.options import parse_options

    name, *opts = spec.split("+")
    return name, parse_options([o if "=" in o else f"{o}=true" for o in opts])


def _localizer(spec: str, array: str, sources: str):
    from neuroaudio.localize.base import default_frame_s
    from neuroaudio.localize.registry import make_localizer

    name, opts = method_spec(spec)
    fs_ = default_frame_s(sources)
    return make_localizer(name, array, sources=sources, frame_s=fs_, hop_s=fs_ / 2, **opts)


def static_scores(method: str, sources: str, lst, array: str, tol: float) -> dict:
    from neuroaudio.eval.multi import assigned_errors, recall_precision

    all_ok, errs, m = [], [], np.zeros(3)
    sw = []
    cpu, audio = 0.0, 0.0
    for sc, x in lst:
        k = str(sc.n_talkers) if sources == "talkers" else sources
        loc = _localizer(method, array, k)
        t0 = time.process_time()
        res = loc.localize(x)
        cpu += time.process_time() - t0
        audio += len(x) / loc.fs
        est = ([s.azimuth_deg for s in res.sources] if res.sources is not None
               else [] if res.azimuth_deg is None else [res.azimuth_deg])
        e = assigned_errors(sc.start_deg, est)
        all_ok.append(bool(np.all(e <= tol)))
        errs.extend(np.minimum(e, 180.0))
        m += recall_precision(sc.start_deg, est, tol)
        sw.append(_switch_rates(res.frames, sc.duration_s, loc))
    return {"all10": float(np.mean(all_ok)), "mae_deg": float(np.mean(errs)), "recall": m[0] / m[1],
            "precision": m[0] / max(m[2], 1), "n_reported": m[2] / len(lst), "rtf": cpu / audio,
            "switches_per_s": float(np.mean([s[0] for s in sw])),
            "naive_switches_per_s": float(np.mean([s[1] for s in sw]))}


def reference_scores(method: str, lst, array: str, tol: float) -> dict:
    """pyroomacoustics' algorithm on the whole clip with ``num_src`` = the true count."""
    import pyroomacoustics as pra

    from neuroaudio import SPEED_OF_SOUND_M_S
    from neuroaudio.arrays import load_array
    from neuroaudio.eval.multi import assigned_errors, recall_precision
    from neuroaudio.spectra import hann, stft_snapshots

    algo = {"pra-music": "MUSIC", "pra-normmusic": "NormMUSIC", "pra-srp": "SRP"}[method]
    arr = load_array(array)
    all_ok, errs, m = [], [], np.zeros(3)
    for sc, x in lst:
        X = stft_snapshots(x[None], 512, 256, hann(512))[0]                 # [S, F, M]
        X = np.transpose(X, (2, 1, 0)).astype(np.complex128)               # [M, F, S]
        doa = pra.doa.algorithms[algo](arr.mics_m.T.copy(), sc.fs, 512, c=SPEED_OF_SOUND_M_S,
                                       num_src=sc.n_talkers, dim=2,
                                       azimuth=np.deg2rad(np.arange(360.0)))
        doa.locate_sources(X, num_src=sc.n_talkers, freq_range=[500.0, 4000.0])
        est = list(np.rad2deg(np.atleast_1d(doa.azimuth_recon)) % 360)
        e = assigned_errors(sc.start_deg, est)
        all_ok.append(bool(np.all(e <= tol)))
        errs.extend(np.minimum(e, 180.0))
        m += recall_precision(sc.start_deg, est, tol)
    return {"all10": float(np.mean(all_ok)), "mae_deg": float(np.mean(errs)), "recall": m[0] / m[1],
            "precision": m[0] / max(m[2], 1), "n_reported": m[2] / len(lst)}


def moving_scores(method: str, sources: str, lst, array: str, tol: float, cutoff: float) -> dict:
    from neuroaudio.eval.multi import IdSwitches, ospa, recall_precision
    o, ids, minutes, m, sw = [], 0, 0.0, np.zeros(3), []
    for sc, x in lst:
        k = str(sc.n_talkers) if sources == "talkers" else sources
        loc = _localizer(method, array, k)
        res = loc.localize(x)
        counter = IdSwitches(cutoff)
        for fr, tr in _track(res.frames, loc.hop / loc.fs, loc.multi):
            truth = sc.azimuths_at(fr.t_s)[0]
            tracks = [(t.track_id, t.azimuth_deg) for t in tr.confirmed()]
            if fr.t_s >= 0.5:                    # after the tracks' birth delay
                o.append(ospa(truth, [a for _, a in tracks], cutoff))
                m += recall_precision(truth, [a for _, a in tracks], tol)
            counter.update(truth, tracks)
        ids += counter.switches
        minutes += sc.duration_s / 60
        sw.append(_switch_rates(res.frames, sc.duration_s, loc))
    return {"ospa_deg": float(np.mean(o)), "id_switches_per_min": ids / minutes,
            "track_recall": m[0] / m[1], "track_precision": m[0] / max(m[2], 1),
            "switches_per_s": float(np.mean([s[0] for s in sw])),
            "naive_switches_per_s": float(np.mean([s[1] for s in sw]))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "pipelines" / "multi_bench.yaml"))
    ap.add_argument("--clips", type=int, default=None, help="clips per scene kind (default: the config's)")
    ap.add_argument("--out", default=str(REPO / "runs" / "multi_bench"))
    a = ap.parse_args(argv)
    text = Path(a.config).read_text(encoding="utf-8")
    cfg = yaml.safe_load(text)
    scene_keys = json.dumps({k: cfg[k] for k in ("seed", "array", "static", "moving")}, sort_keys=True)
    root = Path(a.out) / f"clips_{hashlib.sha1(scene_keys.encode()).hexdigest()[:8]}"
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    sc = scenes(cfg, root, a.clips)
    print(f"scenes ready in {time.time() - t0:.0f} s", file=sys.stderr)
    tol, cut = float(cfg["tolerance_deg"]), float(cfg["ospa_cutoff_deg"])
    results: dict = {"static": {}, "moving": {}, "single_source_tracking": {}}
    for kind in [k for k in sc if k.startswith("static")]:
        for meth in cfg["methods"]:
            for s in cfg["sources"]:
                results["static"][f"{kind}/{meth}/{s}"] = static_scores(meth, s, sc[kind], cfg["array"], tol)
        for ref in cfg["references"]:
            results["static"][f"{kind}/{ref}/num_src"] = reference_scores(ref, sc[kind], cfg["array"], tol)
    for meth in cfg["methods"]:
        for s in cfg["sources"]:
            results["moving"][f"{meth}/{s}"] = moving_scores(meth, s, sc["moving"], cfg["array"], tol, cut)
        # the single-source default (K = 1, 0.17-s frames) on the two-talker scenes: main output flips
        results["single_source_tracking"][meth] = static_scores(meth, "1", sc["static2"], cfg["array"], tol)
    out = Path(a.out) / "results.json"
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    n = {k: len(v) for k, v in sc.items()}
    print(f"\nStatic talkers ({n}; every talker within {tol:g} deg = all10):\n")
    print("| scene | method | sources | all10 | MAE (deg) | recall@10 | precision@10 | reported | RTF |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key, r in results["static"].items():
        kind, meth, s = key.split("/")
        rtf = f"{r['rtf']:.3f}" if "rtf" in r else "-"
        print(f"| {kind[-1]} talkers | {meth} | {s} | {100 * r['all10']:.0f}% | {r['mae_deg']:.1f} | "
              f"{r['recall']:.2f} | {r['precision']:.2f} | {r['n_reported']:.2f} | {rtf} |")
    print(f"\nMoving talkers (2, {n['moving']} clips of {cfg['moving']['duration_s']:g} s), tracked:\n")
    print("| method | sources | OSPA (deg) | id switches / min | track recall@10 | track precision@10 "
          "| main-output switches / s (hysteresis / naive) |")
    print("|---|---|---|---|---|---|---|")
    for key, r in results["moving"].items():
        meth, s = key.split("/")
        print(f"| {meth} | {s} | {r['ospa_deg']:.1f} | {r['id_switches_per_min']:.2f} | "
              f"{r['track_recall']:.2f} | {r['track_precision']:.2f} | "
              f"{r['switches_per_s']:.2f} / {r['naive_switches_per_s']:.2f} |")
    print("\nSingle-source default (K = 1, 0.17-s frames) tracked on the two-talker scenes:\n")
    for meth, r in results["single_source_tracking"].items():
        print(f"- {meth}: main output switches {r['switches_per_s']:.2f} /s with hysteresis, "
              f"{r['naive_switches_per_s']:.2f} /s following the frame's peak")
    print(f"\n({time.time() - t0:.0f} s; {out})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
