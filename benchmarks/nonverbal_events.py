"""Nonverbal events in longer audio (issue 14, item 6): how well does a nonverbal-vocalisation
classifier, run over windows of a recording (`emotransfer predict --events`), find the laughs,
sobs, sighs and screams in it, with their times?

No corpus here has long recordings with annotated nonverbal events, so the recordings are
assembled from held-out speakers' clips with known times: EmoDB sentences (speech) with a
nonverbal clip of the nonverbal corpus after every two or three of them, 0.3 s gaps of faint
noise between clips. The detector is trained on the other speakers' clips: the 16 nonverbal
classes plus `speech` (EmoDB sentences), so a window of speech has a class of its own. Each
system is a run on that training manifest (speaker 5-fold UAR, then the refit served model),
scored on the same recordings:

- event F1: a detected event is a hit when it overlaps a reference event of the same class
  (each reference matched once); `any` F1 ignores the class (a vocalisation found, whatever
  it is called); onset and offset errors of the class hits;
- segment F1 (1 s segments, class-agnostic): segments that hold a nonverbal event;
- the clip-level ceiling: the same served model on the held-out nonverbal clips whole (what
  the windows cannot beat: it knows where each clip starts and ends).

Systems: eGeMAPS + SVM and the frozen whisper-base weighted-sum probe.

Usage (from the repository root; writes benchmarks/results/nonverbal_events.json as it goes)::

    python benchmarks/nonverbal_events.py [--only egemaps_svm] [--recordings 40]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from nonverbal import SYSTEMS as NONVERBAL  # a sibling script (benchmarks/ is on the path)

from emotransfer.config import load_config
from emotransfer.data.audio import load_audio
from emotransfer.experiment import run
from emotransfer.inference import Predictor
from emotransfer.inference.timeline import events, timeline

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
OUT = HERE / "results" / "nonverbal_events.json"
WORK = HERE / "work" / "nonverbal_events"
RATE = 16000
# The nonverbal classifier benchmark's two frozen systems (benchmarks/nonverbal.py).
SYSTEMS = {name: NONVERBAL[name] for name in ("egemaps_svm", "whisper_weighted_sum")}


def partition(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and held-out rows (``file`` absolute, ``vocalization``, ``speaker``): a fifth of
    the nonverbal speakers and two EmoDB speakers held out."""
    rng = np.random.default_rng(seed)
    voc = pd.read_csv(SHARED / "data" / "nonverbal" / "metadata.csv", dtype=str)
    voc["file"] = [str(SHARED / "data" / "nonverbal" / f) for f in voc["file"]]
    speech = pd.read_csv(SHARED / "data" / "emodb" / "metadata.csv", dtype=str)
    speech["file"] = [str(SHARED / "data" / "emodb" / f) for f in speech["file"]]
    speech["vocalization"] = "speech"
    columns = ["file", "speaker", "vocalization"]
    rows = pd.concat([voc[columns], speech[columns]], ignore_index=True).assign(emotion="")
    speakers = sorted(voc["speaker"].unique())
    held = set(rng.choice(speakers, size=len(speakers) // 5, replace=False))
    held |= set(rng.choice(sorted(speech["speaker"].unique()), size=2, replace=False))
    test = rows["speaker"].isin(held)
    return rows[~test].reset_index(drop=True), rows[test].reset_index(drop=True)


def recordings(held: pd.DataFrame, count: int, seed: int) -> list[dict]:
    """Up to ``count`` recordings of four held-out nonverbal clips each (every clip once), 2-3
    sentences of the held-out EmoDB speakers before each (the sentences cycle). Returns per
    recording the wave and its reference events ``[(label, start, end)]``."""
    rng = np.random.default_rng(seed)
    sentences = held[held["vocalization"] == "speech"].sample(frac=1.0, random_state=seed)
    vocal = held[held["vocalization"] != "speech"].sample(frac=1.0, random_state=seed)
    sentences, vocal = list(sentences["file"]), list(vocal.itertuples(index=False))
    said = 0
    made = []
    for _ in range(count):
        pieces, reference, now = [], [], 0.0
        for _ in range(4):
            for _ in range(int(rng.integers(2, 4))):
                now = _append(pieces, load_audio(sentences[said % len(sentences)]), now, rng)
                said += 1
            if vocal:
                clip = vocal.pop()
                start = now
                now = _append(pieces, load_audio(clip.file), now, rng)
                reference.append((clip.vocalization, round(start, 3), round(now - 0.3, 3)))
        if reference:
            made.append({"wave": np.concatenate(pieces).astype(np.float32),
                         "reference": reference})  # fmt: skip
    return made


def _append(pieces: list, wave: np.ndarray, now: float, rng: np.random.Generator) -> float:
    gap = (rng.standard_normal(int(0.3 * RATE)) * 1e-3).astype(np.float32)
    pieces.extend([wave.astype(np.float32), gap])
    return now + len(wave) / RATE + 0.3


def score(found: list, reference: list, duration: float) -> dict:
    """Event counts (class and any), onset/offset errors and 1 s segment counts."""
    counts = {"hits": 0, "any_hits": 0, "found": len(found), "reference": len(reference)}
    errors = []
    for strict in (True, False):
        used = set()
        for event in found:
            for number, (label, start, end) in enumerate(reference):
                same = event.label == label or not strict
                if number not in used and same and event.start < end and event.end > start:
                    used.add(number)
                    if strict:
                        errors.append((abs(event.start - start), abs(event.end - end)))
                    break
        counts["hits" if strict else "any_hits"] = len(used)
    segments = np.arange(0.0, duration, 1.0)
    truth = [any(s < end and s + 1 > start for _, start, end in reference) for s in segments]
    said = [any(s < e.end and s + 1 > e.start for e in found) for s in segments]
    truth, said = np.array(truth), np.array(said)
    counts.update(seg_tp=int((truth & said).sum()), seg_fp=int((~truth & said).sum()),
                  seg_fn=int((truth & ~said).sum()), errors=errors)  # fmt: skip
    return counts


def f1(hits: int, found: int, reference: int) -> float:
    return 2 * hits / (found + reference) if found + reference else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--recordings", type=int, default=40)
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--hop", type=float, default=0.5)
    parser.add_argument("--threshold", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", default="runs/benchmarks")
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    train, held = partition(args.seed)
    root = WORK / "train"
    root.mkdir(parents=True, exist_ok=True)
    train.to_csv(root / "metadata.csv", index=False)
    made = recordings(held, args.recordings, args.seed)
    vocal = held[held["vocalization"] != "speech"]
    for name, overrides in SYSTEMS.items():
        if (args.only is not None and name not in args.only) or name in results:
            continue
        config = load_config(None, overrides=[
            f"name=nonverbal_events_{name}", f"output_dir={args.runs}",
            f"cache_dir={WORK / 'cache'}", f"data.corpora=[{{name: csv, root: {root}}}]",
            "data.labels.column=vocalization", "split.kind=speaker_kfold", "split.folds=5",
            "features.normalization=global", *overrides,
        ])  # fmt: skip
        began = time.perf_counter()
        result = run(config, progress=False)
        trained = time.perf_counter() - began
        predictor = Predictor.from_run(result.run_dir)
        targets = [c for c in predictor.classes if c != "speech"]
        clips = predictor.predict_files(list(vocal["file"]))
        ceiling = float(np.mean([max(p, key=p.get) == label
                                 for p, label in zip(clips, vocal["vocalization"])]))  # fmt: skip
        began = time.perf_counter()
        totals: dict = {}
        audio_seconds = 0.0
        for recording in made:
            wave = recording["wave"]
            audio_seconds += len(wave) / RATE
            table = timeline(predictor, wave, window_s=args.window, hop_s=args.hop)
            found = events(table, targets, threshold=args.threshold)
            for key, value in score(found, recording["reference"], len(wave) / RATE).items():
                totals[key] = totals.get(key, 0 if key != "errors" else []) + value
        seconds = time.perf_counter() - began
        errors = np.array(totals.pop("errors")).reshape(-1, 2)
        seg = totals["seg_tp"], totals["seg_fp"], totals["seg_fn"]
        results[name] = {
            "uar_clips_5fold": result.metrics["summary"]["uar"],
            "clip_accuracy_held_out": round(ceiling, 4),
            "event_f1": round(f1(totals["hits"], totals["found"], totals["reference"]), 4),
            "event_f1_any": round(f1(totals["any_hits"], totals["found"], totals["reference"]), 4),
            "segment_f1_any": round(2 * seg[0] / (2 * seg[0] + seg[1] + seg[2]), 4),
            "onset_error_s": round(float(np.median(errors[:, 0])), 3) if len(errors) else None,
            "offset_error_s": round(float(np.median(errors[:, 1])), 3) if len(errors) else None,
            **totals, "recordings": len(made), "audio_seconds": round(audio_seconds, 1),
            "real_time_factor": round(audio_seconds / seconds, 1),
            "train_seconds": round(trained, 1), "run_dir": str(result.run_dir),
            "window_s": args.window, "hop_s": args.hop, "threshold": args.threshold,
        }  # fmt: skip
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(name, json.dumps(results[name]), flush=True)


if __name__ == "__main__":
    main()
