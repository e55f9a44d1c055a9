"""The candidate: the voice encoder with its input averaged over pairs of STFT frames (time pooling by POOL before
the first conv), so every conv block works on half as many frames. Applied by patching VoiceEncoder, so the
library is unchanged while this is an experiment; train.py and score.py patch before they build or load one."""

import os

from torch import nn

from s2f.models import networks

POOL = int(os.environ.get("S2F_TIME_POOL", "2"))


def patch(pool: int = POOL) -> None:
    if pool <= 1:
        return
    init = networks.VoiceEncoder.__init__

    def pooled_init(self, cfg):
        init(self, cfg)
        self.convs = nn.Sequential(nn.AvgPool2d((pool, 1)), *self.convs)

    networks.VoiceEncoder.__init__ = pooled_init
