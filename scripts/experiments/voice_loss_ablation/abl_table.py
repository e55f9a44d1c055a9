import json, glob, statistics as st, sys
names = sys.argv[1:] or ["default", "contrastive_only", "std_l2_only", "paper"]
keys = ["val_R@1_3s", "val_R@10_3s", "val_1:2_3s", "val_R@1_6s", "val_R@10_6s", "val_1:2_6s", "spread", "best_epoch"]
print("| loss | " + " | ".join(keys) + " | n |")
for n in names:
    rows = []
    for f in sorted(glob.glob(f"/tmp/ablation/{n}/seed*/reports/metrics.json")):
        d = json.load(open(f))
        if "epochs_run" in d: rows.append(d)
    if not rows: continue
    cells = []
    for k in keys:
        v = [r[k] for r in rows]
        cells.append(f"{st.mean(v):.1f} ± {st.stdev(v):.1f}" if len(v) > 1 else f"{v[0]:.1f}")
    print(f"| {n} | " + " | ".join(cells) + f" | {len(rows)} |")
