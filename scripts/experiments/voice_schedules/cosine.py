"""Train one ensemble with `voice_model.lr_schedule: cosine` (the learning rate annealed to 0 over N epochs, a step
each epoch) and no early stopping, the other params as in params.yaml; each member keeps its best epoch on val
loss, as in train_voice. Saves .cache/experiments/models/seed{S}_cos{N} for val_eval.py.
usage: cosine.py SEED N"""

import sys
from pathlib import Path

from experiment import PARAMS, train_and_save

seed, epochs = int(sys.argv[1]), int(sys.argv[2])
p = PARAMS.voice_model.model_copy(update={"seed": seed, "epochs": epochs, "patience": epochs + 1,
                                          "lr_schedule": "cosine"})
train_and_save(p, f"cosine{seed}-{epochs}", f".cache/experiments/ck-cos{seed}",
               Path(f".cache/experiments/models/seed{seed}_cos{epochs}"))
