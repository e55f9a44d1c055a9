"""Mean ± sd over seeds of the default encoder (pool 1) and the candidate (pool 2) on val, and the candidate minus
the default, seed by seed, against the default's seed spread (the rule issue 17 set: no headline metric may fall
by more than it). Reads val_scores.jsonl (score.py's rows; the default's seed 0 is models/voice_encoder)."""

import json
import re
import statistics as st
from pathlib import Path

METRICS = [(length, k) for length in ("3s", "6s") for k in ("R@1", "R@10", "gender")]
rows = [json.loads(line) for line in Path(__file__).with_name("val_scores.jsonl").read_text().splitlines()]
by: dict[int, dict[int, dict]] = {}
for r in rows:
    found = re.search(r"pool(\d+)_seed(\d+)$", r["model"])
    pool, seed = (int(found[1]), int(found[2])) if found else (1, 0)  # models/voice_encoder: make run's, seed 0
    by.setdefault(pool, {})[seed] = r
print("encoder | seeds | " + " | ".join(f"{k} {length}" for length, k in METRICS))
for pool, seeds in sorted(by.items()):
    cells = []
    for length, k in METRICS:
        v = [seeds[s][length][k] for s in sorted(seeds)]
        cells.append(f"{st.mean(v):.1f} ± {st.stdev(v):.1f}" if len(v) > 1 else f"{v[0]:.1f}")
    print(f"time pool {pool} | {','.join(map(str, sorted(seeds)))} | " + " | ".join(cells))
common = sorted(set(by.get(1, {})) & set(by.get(2, {})))
if len(common) >= 2:
    out = []
    for length, k in METRICS:
        d = [by[2][s][length][k] - by[1][s][length][k] for s in common]
        spread = st.stdev(by[1][s][length][k] for s in common)
        verdict = "ok" if st.mean(d) >= -spread else "FALLS"
        out.append(f"{k} {length}: {st.mean(d):+.1f} (spread {spread:.1f}) {verdict}")
    print(f"pool 2 - pool 1 over seeds {common}: " + "; ".join(out))
