"""Mean and sd over seeds of each schedule's val scores, and each schedule against the 16-epoch reference.
`cells` and `against` also serve ../voice_pooled_input/compare.py."""

import json
import statistics as st
from pathlib import Path

METRICS = [(length, k) for length in ("3s", "6s") for k in ("R@1", "R@10", "gender")]
HEADER = " | ".join(f"{k} {length}" for length, k in METRICS)


def read_rows(scores: Path) -> list[dict]:
    return [json.loads(line) for line in scores.read_text().splitlines()]


def cells(seeds: dict) -> str:
    """Mean ± sd over the seeds ({seed: row}) of each metric, as table cells."""
    out = []
    for length, k in METRICS:
        v = [seeds[s][length][k] for s in sorted(seeds)]
        out.append(f"{st.mean(v):.1f} ± {st.stdev(v):.1f}" if len(v) > 1 else f"{v[0]:.1f}")
    return " | ".join(out)


def against(candidate: dict, reference: dict, seeds: list) -> str:
    """Each metric's mean change over the seeds, paired seed by seed, against the reference's seed spread (the rule
    issue 17 set: no headline metric may fall by more than it)."""
    out = []
    for length, k in METRICS:
        d = [candidate[s][length][k] - reference[s][length][k] for s in seeds]
        spread = st.stdev(reference[s][length][k] for s in seeds)
        verdict = "OK" if st.mean(d) >= -spread else "FALLS"
        out.append(f"{k} {length}: {st.mean(d):+.1f} (spread {spread:.1f}) {verdict}")
    return "; ".join(out)


if __name__ == "__main__":
    by: dict[str, dict[str, dict]] = {}
    for r in read_rows(Path(__file__).with_name("val_scores.jsonl")):
        seed, rule = r["model"].split("/")[-1].split("_", 1)
        by.setdefault(rule, {})[seed] = r
    before = "E16_P6"
    print("rule | seeds | " + HEADER)
    for rule, seeds in sorted(by.items()):
        print(f"{rule} | {','.join(sorted(seeds))} | " + cells(seeds))
    for rule in by:
        common = sorted(set(by[rule]) & set(by[before]))
        if rule != before and len(common) >= 3:
            print(rule, "vs", before, against(by[rule], by[before], common))
