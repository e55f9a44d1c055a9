"""Trial: one acoustic effect per training clip (or none), instead of each effect drawn independently.
usage: python one_effect.py OUT P_CLEAN [SEED [P_SEVERAL]]  (in the project folder, after make run)

Each training clip gets, with chance P_SEVERAL (default 0), the default augmentation (each effect drawn
independently, as `s2f run train_voice` does); otherwise, with chance P_CLEAN, no effect, else one of reverb, eq,
noise, band and codec (equally likely) at the default settings; always the level change. The voice encoder is
otherwise trained as `s2f run train_voice` trains it (make run's data and decoder) and saved to
OUT/voice_encoder; then `python scripts/real_voices.py --models OUT`, with make run's decoder and attributes
linked there, scores it on the dev real clips."""
import json
import sys

import torch

sys.path.insert(0, ".")
from pathlib import Path

from s2f.config import load_params
from s2f.models import train_voice as tv
from s2f.models.augment import Augmentation, augment
from s2f.models.data import load_voice_data
from s2f.models.store import ModelCard, save_model
from s2f.models.zoo import load_decoder

out, p_clean = Path(sys.argv[1]), float(sys.argv[2])
p_several = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
EFFECTS = ("reverb", "eq", "noise", "band", "codec")

def one_effect(spec, a, seed, index=None):
    if not a.active:
        return spec
    res = spec.float().clone()
    for i in range(len(spec)):
        k = i if index is None else index[i]
        g = torch.Generator().manual_seed(seed * 7919 + k)
        u = float(torch.rand(1, generator=g))
        if float(torch.rand(1, generator=g)) < p_several:
            res[i] = augment(spec[i:i + 1], a, seed, [k])[0]
            continue
        pick = {"level_db": a.level_db}
        if u >= p_clean:
            pick[EFFECTS[int(torch.randint(len(EFFECTS), (1,), generator=g))]] = 1.0
        res[i] = augment(spec[i:i + 1], Augmentation(**pick), seed, [k])[0]
    return res.to(spec.dtype)

tv.augment = one_effect
params = load_params("params.yaml", [f"voice_model.seed={sys.argv[3]}"] if len(sys.argv) > 3 else [])
paths, p = params.paths, params.voice_model
decoder, dcard = load_decoder(paths.face_decoder)
data = load_voice_data(paths.face_features, paths.spectrograms, p.memory_gb)
enc, metrics = tv.train_voice_encoder(p, decoder.fc, data, "trial", out / "ckpt")
card = ModelCard(model="voice_encoder", arch=enc.cfg.to_json(), trained_on="synth", params=p.model_dump(mode="json"),
                 params_hash="trial", data_version="trial", metrics=metrics)
save_model(enc, card, out / "voice_encoder")
shown = {k: round(v, 2) for k, v in metrics.items() if "R@" in k or "1:2" in k or k in ("val_loss", "best_val_loss")}
print(json.dumps(shown))
