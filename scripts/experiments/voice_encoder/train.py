"""Scratch: train one 1-D encoder config on train, score on val. python train.py '{"seed":0,...}'"""
from __future__ import annotations
import json, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parent))
from harness import load, val_scores, speaker_faces
from s2f import metrics as m

DEF = dict(seed=0, ch=128, layers=4, k=5, hidden=256, dropout=0.5, epochs=30, batch=32, lr=1e-3, wd=1e-4,
           tau=0.05, w_nce=1.0, w_z=0.1, w_cos=0.0, crop=298, pool='meanstd', patience=100, select='loss',
           dil=0, inorm=0, stride1=1, gain_aug=0.0, fmask=0, threads=2, bank='train')

class Enc(nn.Module):
    def __init__(s, c, mean, std, omean, oscale):
        super().__init__()
        s.c = c
        L = []; prev = 257
        for i in range(c['layers']):
            d = 2 ** i if c['dil'] else 1
            st = c['stride1'] if i == 0 else 1
            L += [nn.Conv1d(prev, c['ch'], c['k'], stride=st, padding=(c['k'] // 2) * d, dilation=d), nn.BatchNorm1d(c['ch']), nn.ReLU()]
            prev = c['ch']
        s.convs = nn.Sequential(*L)
        pooled = 2 * prev if c['pool'] == 'meanstd' else prev
        s.head = nn.Sequential(nn.Linear(pooled, c['hidden']), nn.BatchNorm1d(c['hidden']), nn.ReLU(), nn.Dropout(c['dropout']), nn.Linear(c['hidden'], 128))
        s.register_buffer('mean', torch.from_numpy(mean)[None, :, None]); s.register_buffer('std', torch.from_numpy(std)[None, :, None])
        s.register_buffer('omean', torch.from_numpy(omean)); s.register_buffer('oscale', torch.from_numpy(oscale))
        with torch.no_grad(): s.head[-1].weight.mul_(0.1); s.head[-1].bias.zero_()
    def forward(s, x):
        x = (x - s.mean) / s.std
        if s.c['inorm']: x = x - x.mean(2, keepdim=True)
        h = s.convs(x)
        p = torch.cat([h.mean(2), h.std(2)], 1) if s.c['pool'] == 'meanstd' else h.mean(2)
        return s.omean + s.oscale * s.head(p)

def run(c):
    torch.manual_seed(c['seed']); rng = np.random.default_rng(c['seed']); torch.set_num_threads(c['threads'])
    tid, tspk, tf, tx, _ = load('train'); vid, vspk, vf, vx, _ = load('val')
    if c.get('ntrain'):
        keep = np.random.default_rng(123).permutation(len(tid))[:c['ntrain']]
        tid = [tid[i] for i in keep]; tspk = [tspk[i] for i in keep]; tf = tf[keep]; tx = tx[keep]
    mean = tx.mean((0, 2)).astype(np.float32); std = tx.std((0, 2)).astype(np.float32) + 1e-3
    fm = tf.mean(0).astype(np.float32); fs = tf.std(0).astype(np.float32) + 1e-6
    model = Enc(c, mean, std, fm, fs)
    bank, names = speaker_faces(tf, tspk); bank = torch.from_numpy(bank.astype(np.float32))
    target = torch.tensor([names.index(s) for s in tspk])
    TX = torch.from_numpy(tx); TF = torch.from_numpy(tf); FS = torch.from_numpy(fs)
    opt = torch.optim.Adam(model.parameters(), lr=c['lr'], weight_decay=c['wd'])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, c['epochs'])
    n = len(tid); best = (float('inf'), None, -1); log = []
    VX = torch.from_numpy(vx); VF = torch.from_numpy(vf)
    vbank, vnames = speaker_faces(vf, vspk); vbank = torch.from_numpy(vbank.astype(np.float32)); vt = torch.tensor([vnames.index(s) for s in vspk])
    t0 = time.time()
    def loss_terms(pred, true, tgt, bk):
        t = {}
        t['nce'] = F.cross_entropy(F.normalize(pred, dim=1) @ bk.T / c['tau'], tgt)
        t['z'] = ((pred - true) / FS).pow(2).mean()
        t['cos'] = (1 - F.cosine_similarity(pred, true)).mean()
        t['loss'] = c['w_nce'] * t['nce'] + c['w_z'] * t['z'] + c['w_cos'] * t['cos']
        return t
    for ep in range(c['epochs']):
        model.train(); perm = rng.permutation(n); tot = 0
        for i in range(0, n - 1, c['batch']):
            idx = perm[i:i + c['batch']]
            if len(idx) < 2: continue
            starts = rng.integers(0, TX.shape[2] - c['crop'] + 1, len(idx))
            xb = torch.stack([TX[j, :, s:s + c['crop']] for j, s in zip(idx, starts)])
            if c['gain_aug']: xb = xb + torch.from_numpy(rng.normal(0, c['gain_aug'], (len(idx), 1, 1)).astype(np.float32))
            t = loss_terms(model(xb), TF[idx], target[idx], bank)
            opt.zero_grad(); t['loss'].backward(); opt.step(); tot += t['loss'].item() * len(idx)
        sched.step()
        model.eval()
        with torch.no_grad():
            p3 = model(VX[:, :, :298]); p6 = model(VX)
            vl = loss_terms(p3, VF, vt, vbank)
        sc = val_scores({'3s': p3.numpy(), '6s': p6.numpy()}, vspk, vf)
        k = np.linalg.norm(tf - fm, axis=1).mean() / np.linalg.norm(p6.numpy() - fm, axis=1).mean()
        sc.update({kk + 'w': v for kk, v in val_scores({'3s': fm + k * (p3.numpy() - fm), '6s': fm + k * (p6.numpy() - fm)}, vspk, vf).items()})
        sc['k'] = k
        row = dict(ep=ep, train=tot / n, val=vl['loss'].item(), vnce=vl['nce'].item(), vz=vl['z'].item(), **{k: round(float(v), 1) for k, v in sc.items()})
        log.append(row)
        crit = vl['loss'].item() if c['select'] == 'loss' else -(sc['R@10_3s'] + sc['R@10_6s'])
        if crit < best[0]: best = (crit, {k: round(float(v), 1) for k, v in sc.items()}, ep)
    last = log[-1]
    if c.get('save_test'):
        sid, sspk, sf, sx, _ = load('test')
        with torch.no_grad():
            SX = torch.from_numpy(sx)
            np.savez(c['save_test'], p3=model(SX[:, :, :298]).numpy(), p6=model(SX).numpy(), spk=np.array(sspk), feats=sf)
    return dict(cfg=c, best_ep=best[2], best=best[1], last={k: last[k] for k in last if k[0] in 'R1'}, secs=time.time() - t0, log=log)

if __name__ == '__main__':
    c = {**DEF, **json.loads(sys.argv[1] if len(sys.argv) > 1 else '{}')}
    r = run(c)
    verbose = c.get('verbose', 0)
    if verbose:
        for row in r['log']: print(row)
    print(json.dumps({k: r[k] for k in ('cfg', 'best_ep', 'best', 'last', 'secs')}))
    from harness import CACHE
    with open(CACHE / 'results.jsonl', 'a') as f: f.write(json.dumps(r) + '\n')
