"""Scratch: per-query R@1 variance with 20 random pools vs the exact expectation over pools; paired with ridge."""
import sys, numpy as np
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parent))
from harness import load, speaker_faces, CACHE
from s2f import metrics as m
from s2f.evaluate import baselines as base
from scipy.stats import hypergeom
z = np.load(sys.argv[1])
tid, tspk, tf, _, _ = load('train'); sid, sspk, sf, _, _ = load('test')
r = np.load(CACHE / 'resemblyzer.npz'); rt = np.load(CACHE / 'resemblyzer_test.npz')
ridge = base.fit_ridge(r['temb'], tf, tspk, [0.1, 1, 10, 100, 1000])
faces, names = speaker_faces(sf, list(sspk))
truth = np.array([names.index(s) for s in sspk])
def exact(pred, pool=100, K=1):
    d = m.distances(m.normalize(pred), faces, 'cosine')
    rank = (d <= d[np.arange(len(d)), truth][:, None]).sum(1) - 1
    N = len(names)
    return hypergeom.cdf(K - 1, N - 1, rank, pool - 1)
for L, key, rk in (('3s', 'p3', 't3'), ('6s', 'p6', 't6')):
    v, b = z[key], ridge.predict(rt[rk])
    for K in (1, 10):
        h20 = [m.query_hits(m.normalize(x), list(sspk), faces, names, 100, 'cosine', 20, 0, (K,))[:, 0] for x in (v, b)]
        hex_ = [exact(x, K=K) for x in (v, b)]
        for name, (hv, hb) in (('20 rounds', h20), ('exact', hex_)):
            d = hv - hb
            ci = m.paired_bootstrap(d, list(sspk))
            print(L, f'R@{K}', name, 'voice', round(100 * hv.mean(), 1), 'ridge', round(100 * hb.mean(), 1), 'diff', round(100 * ci['diff'], 1), '+-', round(50 * (ci['hi'] - ci['lo']), 2), 'sd', round(d.std(), 3), 'n(+-2.5)', int((1.96 * d.std() / 0.025) ** 2))
