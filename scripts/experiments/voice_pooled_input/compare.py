"""Mean ± sd over seeds of the default encoder (pool 1) and the candidate (pool 2) on val, and the candidate minus
the default, seed by seed, against the default's seed spread (the rule issue 17 set: no headline metric may fall
by more than it). Reads val_scores.jsonl (score.py's rows; the default's seed 0 is models/voice_encoder)."""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "voice_schedules"))  # the experiments' shared table code
from compare import HEADER, against, cells, read_rows  # noqa: E402

by: dict[int, dict[int, dict]] = {}
for r in read_rows(Path(__file__).with_name("val_scores.jsonl")):
    found = re.search(r"pool(\d+)_seed(\d+)$", r["model"])
    pool, seed = (int(found[1]), int(found[2])) if found else (1, 0)  # models/voice_encoder: make run's, seed 0
    by.setdefault(pool, {})[seed] = r
print("encoder | seeds | " + HEADER)
for pool, seeds in sorted(by.items()):
    print(f"time pool {pool} | {','.join(map(str, sorted(seeds)))} | " + cells(seeds))
common = sorted(set(by.get(1, {})) & set(by.get(2, {})))
if len(common) >= 2:
    print(f"pool 2 - pool 1 over seeds {common}: " + against(by[2], by[1], common))
