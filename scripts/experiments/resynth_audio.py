"""Issue 40 trials (commit message of the commit that adds this): Re-render the speech of the train+val speakers with the code at CODE (its s2f.synth) and mux it into copies of
SRC's mp4s (video stream copied); test speakers' mp4s are linked. python resynth_audio.py CODE SRC DST CLIPS_DIR"""
import os, subprocess, sys
from multiprocessing import Pool
from pathlib import Path
import numpy as np, pandas as pd
code, src, dst, clips_dir = map(Path, sys.argv[1:5])
sys.path.insert(0, str(code))

def job(args):
    rel, idx = args
    from s2f.synth.attributes import sample_speaker
    from s2f.synth.voice import speech_track
    sp = sample_speaker(0, idx)
    rng = np.random.default_rng([0, idx, 0, 0xC11])
    audio, rate, _ = speech_track(sp, 6.0, rng)
    out = dst / rel; out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_suffix(".f32"); np.asarray(audio, "<f4").tofile(raw)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src / rel), "-f", "f32le", "-ar", str(rate), "-ac", "1",
                    "-i", str(raw), "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-b:a", "64k",
                    "-ar", "16000", "-ac", "1", str(out)], check=True)
    raw.unlink()

if __name__ == "__main__":
    t = pd.read_parquet(clips_dir)
    print(t.columns.tolist(), len(t))
    for f in ("meta.csv", "attributes.parquet", "transcripts.csv"):
        if not (dst / f).exists():
            dst.mkdir(parents=True, exist_ok=True); os.symlink(src / f, dst / f)
    todo = []
    for rel in sorted(str(p.relative_to(src)) for p in src.glob("mp4/*/*/*.mp4")):
        spk = rel.split("/")[1]
        split = t.loc[t.speaker_id == spk, "split"].iloc[0]
        if split == "test":
            out = dst / rel; out.parent.mkdir(parents=True, exist_ok=True)
            if not out.exists(): os.symlink(src / rel, out)
        else:
            todo.append((rel, int(spk[2:])))
    with Pool(2) as pool:
        for i, _ in enumerate(pool.imap_unordered(job, todo, chunksize=8)):
            if i % 100 == 0: print(i, flush=True)
