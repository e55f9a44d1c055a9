"""Mean and sd over seeds of each schedule's val scores, and each schedule against the 16-epoch reference."""

import json
import statistics as st
from pathlib import Path

SCORES = Path(__file__).with_name("val_scores.jsonl")
rows = [json.loads(line) for line in SCORES.read_text().splitlines()]
by = {}
for r in rows:
    name = r["model"].split("/")[-1]
    seed, rule = name.split("_", 1)
    by.setdefault(rule, {})[seed] = r
metrics = [(L, k) for L in ("3s", "6s") for k in ("R@1", "R@10", "gender")]
before = "E16_P6"
print("rule | seeds | " + " | ".join(f"{k} {L}" for L, k in metrics))
for rule, seeds in sorted(by.items()):
    vals = {m: [seeds[s][m[0]][m[1]] for s in sorted(seeds)] for m in metrics}
    cells = []
    for m in metrics:
        v = vals[m]
        sd = st.stdev(v) if len(v) > 1 else float("nan")
        cells.append(f"{st.mean(v):.1f} ± {sd:.1f}")
    print(f"{rule} | {','.join(sorted(seeds))} | " + " | ".join(cells))
for rule in by:
    if rule == before:
        continue
    ss = sorted(set(by[rule]) & set(by[before]))
    if len(ss) < 3:
        continue
    out = []
    for m in metrics:
        d = [by[rule][s][m[0]][m[1]] - by[before][s][m[0]][m[1]] for s in ss]
        spread = st.stdev([by[before][s][m[0]][m[1]] for s in ss])
        verdict = "OK" if st.mean(d) >= -spread else "FALLS"
        out.append(f"{m[1]} {m[0]}: {st.mean(d):+.1f} (spread {spread:.1f}) {verdict}")
    print(rule, "vs", before, "; ".join(out))
