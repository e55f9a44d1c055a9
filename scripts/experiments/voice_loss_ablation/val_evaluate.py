"""the evaluate stage's scoring on the VAL split for a trained voice encoder folder (product code).
python val_evaluate.py MODEL_DIR [MODEL_DIR ...]  -> prints one JSON line per model: voice and baselines on val."""
import sys, os, json, hashlib, pickle
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
import numpy as np
from s2f.config import load_params
from s2f.evaluate import stage, baselines as base
from s2f.evaluate import evaluation as ev
from s2f.models.zoo import load_encoder
def main():
    global paths
    p = load_params('params.yaml')
    paths = p.paths.model_copy(update={'voice_encoder': Path(sys.argv[1])})
    # resemblyzer embeddings memoised on disk (same waves every call)
    memo_f = Path('/tmp/ablation/emb_memo.pkl')
    memo = pickle.loads(memo_f.read_bytes()) if memo_f.exists() else {}
    real = base.speaker_embeddings
    def cached(waves, batch=256):
        key = hashlib.sha1(b''.join(hashlib.sha1(np.ascontiguousarray(w).tobytes()).digest() for w in waves)).hexdigest()
        if key not in memo:
            memo[key] = real(waves, batch); memo_f.write_bytes(pickle.dumps(memo))
        return memo[key]
    base.speaker_embeddings = cached
    # val as the "test" split
    real_load_test = stage.load_test
    stage.load_test = lambda features, spectrograms: _val(features, spectrograms)
    def _val(features, spectrograms):
        from s2f.models.data import load_features
        from s2f import metrics as m
        ids, speakers, feats = load_features(features, 'val')
        specs = ev.read_spectrograms(spectrograms, 'val')
        keep = [i for i, c in enumerate(ids) if c in specs]
        return ev.TestClips([ids[i] for i in keep], [speakers[i] for i in keep], m.normalize(feats[keep]), [specs[ids[i]] for i in keep])
    for model in sys.argv[1:]:
        inputs = stage.load_inputs(paths, p.evaluate)
        inputs.encoder, _ = load_encoder(model)
        r = stage.evaluate(inputs, p.evaluate, p.audio, p.faces.crop_size, log=lambda _: None).results
        out = {'model': model}
        for L, by in r.lengths.items():
            for meth in ('voice', 'resemblyzer'):
                s = by[meth]
                out[f'{meth}_{L}'] = {'R@1': round(100 * s.retrieval['cosine']['R@1'], 1), 'R@10': round(100 * s.retrieval['cosine']['R@10'], 1),
                                      '1:2': round(100 * s.matching['1:2'], 1), 'gender': round(100 * s.agreement['gender'], 1),
                                      'imgR@10': round(100 * s.image_retrieval['R@10'], 1)}
        out['f2f_gender'] = round(100 * r.f2f.agreement['gender'], 1)
        print(json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
