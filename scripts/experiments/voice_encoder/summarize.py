import json, re, sys, collections, numpy as np
rows = collections.defaultdict(list)
for line in open(sys.argv[1] if len(sys.argv) > 1 else 'sweep.log'):
    m = re.match(r'(\S+) (\{.*?\}) ep (\d+) (.*) (\d+)$', line.strip())
    if not m: continue
    cfg = json.loads(m.group(2)); cfg.pop('seed', None); cfg.pop('save_test', None)
    vals = dict(kv.split('=') for kv in m.group(4).split())
    rows[(m.group(1), json.dumps(cfg, sort_keys=True))].append({k: float(v) for k, v in vals.items()} | {'ep': int(m.group(3)), 'secs': int(m.group(5))})
keys = ['R@1_3s', 'R@10_3s', '1:2_3s', 'R@1_6s', 'R@10_6s', '1:2_6s']
print('tag cfg n | ' + ' | '.join(keys) + ' | ep | s')
for (tag, cfg), rs in rows.items():
    print(tag, cfg, len(rs), '|', ' | '.join(f"{np.mean([r[k] for r in rs]):.1f}±{np.std([r[k] for r in rs]):.1f}" for k in keys), '|', np.mean([r['ep'] for r in rs]), '|', int(np.mean([r['secs'] for r in rs])))
