import sys, numpy as np
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parent))
from harness import load, speaker_faces, CACHE
from s2f import metrics as m
from s2f.evaluate import baselines as base
tid, tspk, tf, _, _ = load('train'); sid, sspk, sf, _, _ = load('test')
r = np.load(CACHE / 'resemblyzer.npz'); rt = np.load(CACHE / 'resemblyzer_test.npz')
ridge = base.fit_ridge(r['temb'], tf, tspk, [0.1, 1, 10, 100, 1000])
faces, names = speaker_faces(sf, list(sspk)); spk = list(sspk)
zs = [np.load(f) for f in sys.argv[1:]]
for L, key, rk in (('3s', 'p3', 't3'), ('6s', 'p6', 't6')):
    b = ridge.predict(rt[rk])
    for K, idx in ((1, 0), (10, 1)):
        hv = np.stack([m.query_hits(m.normalize(z[key]), spk, faces, names, 100, 'cosine', 20, 0, (1, 10))[:, idx] for z in zs])
        hb = m.query_hits(m.normalize(b), spk, faces, names, 100, 'cosine', 20, 0, (1, 10))[:, idx]
        d = hv - hb[None]
        e = m.runs_bootstrap(d, spk)
        singles = [m.paired_bootstrap(x, spk) for x in d]
        print(L, f'R@{K}', 'seeds mean', round(100 * hv.mean(), 1), 'per seed', [round(100 * x.mean(), 1) for x in hv], 'ridge', round(100 * hb.mean(), 1),
              'diff', round(100 * e['mean'], 1), '+-', round(50 * (e['hi'] - e['lo']), 2), 'single +-', [round(50 * (s['hi'] - s['lo']), 2) for s in singles])
