"""Train one ensemble (voice_model as in params.yaml, seed SEED) with the input pooled over POOL frames in time
(S2F_TIME_POOL, default 2; 1 is the default encoder). Saves .cache/experiments/models/pool{POOL}_seed{SEED} for
score.py. usage: train.py SEED"""

import sys
from pathlib import Path

from pooled import POOL, patch

patch()
sys.path.insert(0, str(Path(__file__).parents[1] / "voice_schedules"))  # the experiments' shared training script
from experiment import PARAMS, train_and_save  # noqa: E402

seed = int(sys.argv[1])
name = f"pool{POOL}_seed{seed}"
train_and_save(PARAMS.voice_model.model_copy(update={"seed": seed}), name, f".cache/experiments/ck-{name}",
               Path(f".cache/experiments/models/{name}"))
