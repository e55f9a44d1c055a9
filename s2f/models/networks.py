"""The networks: face decoder (feature -> canonical face), its patch discriminator, and the voice encoder.

Face decoder, in the spirit of Cole et al. (CVPR 2017)'s texture decoder: a fully connected layer to a small
spatial map, then upsampling conv blocks to the face image in [0, 1]. Its first layer (`fc`) is also used by
the voice encoder's loss, as in Speech2Face.

Voice encoder: Speech2Face Table 1 (conv 4x4 blocks of conv, ReLU, batch norm; max-pools along time; average
pool over time; FC 4096; FC to the face feature), with a width multiplier for narrower CPU presets. One
addition: batch norm before the FC 4096 ReLU. Without it, training on a few hundred speakers silenced ~95% of
the hidden units within two epochs (a unit whose pre-activation is negative for every clip gets no gradient
again) and the encoder answered every voice with the same face.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import asdict, dataclass

import torch
from torch import nn

# The encoder's 4x4 kernels with padding="same" make torch warn, on every forward pass of a new shape, that it
# pads a copy of the input: true, cheap at these sizes, and noise in `s2f predict`'s output.
warnings.filterwarnings("ignore", message="Using padding='same' with even kernel lengths", category=UserWarning)


@dataclass(frozen=True)
class DecoderConfig:
    feature_dim: int = 128
    size: int = 64
    channels: tuple[int, ...] = (128, 64, 32, 16)  # one upsampling block each, from a 4x4 map

    def to_json(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}


class FaceDecoder(nn.Module):
    """128-D face feature -> (3, size, size) face image in [0, 1]."""

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.cfg = cfg
        start = cfg.size // 2 ** len(cfg.channels)
        if start * 2 ** len(cfg.channels) != cfg.size or start < 1:
            raise ValueError(f"size {cfg.size} is not 2^{len(cfg.channels)} x an integer")
        self.start = start
        self.fc = nn.Linear(cfg.feature_dim, cfg.channels[0] * start * start)
        blocks: list[nn.Module] = []
        prev = cfg.channels[0]
        for ch in cfg.channels:
            blocks += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(prev, ch, 3, padding=1),
                       nn.BatchNorm2d(ch), nn.LeakyReLU(0.2)]
            prev = ch
        self.blocks = nn.Sequential(*blocks)
        self.to_rgb = nn.Conv2d(prev, 3, 3, padding=1)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc(feature)).view(-1, self.cfg.channels[0], self.start, self.start)
        return torch.sigmoid(self.to_rgb(self.blocks(x)))


class PatchDiscriminator(nn.Module):
    """PatchGAN: a map of real/fake logits over overlapping patches of a face image."""

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128)):
        super().__init__()
        layers: list[nn.Module] = []
        prev = 3
        for i, ch in enumerate(channels):
            layers += [nn.Conv2d(prev, ch, 4, stride=2, padding=1)]
            layers += [nn.BatchNorm2d(ch)] if i else []
            layers += [nn.LeakyReLU(0.2)]
            prev = ch
        layers.append(nn.Conv2d(prev, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)


# Speech2Face Table 1: (output channels, time max-pool after the block, stride).
PAPER_BLOCKS = ((64, False, 1), (64, False, 1), (128, True, 1), (128, True, 1), (128, True, 1), (256, True, 1),
                (512, False, 1), (512, False, 2), (512, False, 2))
PAPER_FC = 4096


@dataclass(frozen=True)
class EncoderConfig:
    width: float = 1.0
    frames: int = 598  # STFT frames of input (598 = 6 s)
    freq: int = 257
    feature_dim: int = 128
    dropout: float = 0.0  # before the last FC layer (regularises small training sets)

    def to_json(self) -> dict:
        return asdict(self)


def _scaled(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))


class VoiceEncoder(nn.Module):
    """(batch, 2, frames, 257) compressed complex spectrogram -> (batch, feature_dim) face feature."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        prev = 2
        for ch, pool, stride in PAPER_BLOCKS:
            ch = _scaled(ch, cfg.width)
            conv = (nn.Conv2d(prev, ch, 4, padding="same") if stride == 1
                    else nn.Conv2d(prev, ch, 4, stride=stride, padding=1))
            layers += [conv, nn.ReLU(), nn.BatchNorm2d(ch)]
            if pool:
                layers.append(nn.MaxPool2d((2, 1)))
            prev = ch
        self.convs = nn.Sequential(*layers)
        freq = cfg.freq
        for _, _, stride in PAPER_BLOCKS:
            if stride == 2:
                freq = (freq + 2 - 4) // 2 + 1
        hidden = _scaled(PAPER_FC, cfg.width)
        # No dropout before the batch norm: its running variance would be the noisier training one, and at eval
        # the hidden layer would come out at ~0.7x its training spread (measured).
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(prev * freq, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                  nn.Dropout(cfg.dropout), nn.Linear(hidden, cfg.feature_dim))
        self.register_buffer("out_mean", torch.zeros(cfg.feature_dim))
        self.register_buffer("out_scale", torch.ones(cfg.feature_dim))

    @torch.no_grad()
    def start_at(self, mean: torch.Tensor, spread: torch.Tensor, scale: float = 0.1) -> None:
        """Predict in units of the training targets' spread around their mean, starting near the mean.

        Face features are unit vectors whose dimensions vary across people by ~0.02, while Adam moves every
        weight by about the learning rate per step: predicting raw features, the first steps overshoot the
        spread many times over. Standardised targets put the output on the scale the optimiser works at.
        """
        self.out_mean.copy_(mean)
        self.out_scale.copy_(spread)
        self.head[-1].weight.mul_(scale)
        self.head[-1].bias.zero_()

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        x = self.convs(spec)  # (batch, channels, time, freq)
        return self.out_mean + self.out_scale * self.head(x.mean(dim=2))  # average pool over time


class VoiceEnsemble(nn.Module):
    """Voice encoders trained from different seeds, their predictions averaged, then widened around the train mean.

    Trained on a few hundred speakers, one encoder's prediction depends on its seed about as much as on the
    voice; averaging keeps what the members share. The spread factor (s2f/models/spread.py) is the ensemble's,
    measured once training ends.
    """

    def __init__(self, members: list[VoiceEncoder]):
        super().__init__()
        self.cfg = members[0].cfg
        self.members = nn.ModuleList(members)
        self.register_buffer("spread", torch.ones(()))

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        mean = self.members[0].out_mean
        average = torch.stack([member(spec) for member in self.members]).mean(0)
        return mean + self.spread * (average - mean)


class VoiceEncoderStack(nn.Module):
    """`M` voice encoders of one architecture run as one network, for training them together.

    Each conv is a grouped conv (group m holds member m's weights) and the head is a batched matmul, so member m
    computes exactly what `VoiceEncoder` m would, but one large kernel call replaces M small ones (about 1.5x the
    time of one encoder for three, here). Input: (batch, 2 * M, frames, 257), member m's spectrograms in channels
    2m and 2m + 1; output: (batch, M, feature_dim). `members()` gives the M plain encoders back.
    """

    def __init__(self, members: list[VoiceEncoder]):
        super().__init__()
        cfg, m = members[0].cfg, len(members)
        self.cfg, self.m = cfg, m
        layers: list[nn.Module] = []
        for i, layer in enumerate(members[0].convs):
            if isinstance(layer, nn.Conv2d):
                conv = nn.Conv2d(layer.in_channels * m, layer.out_channels * m, layer.kernel_size, layer.stride,
                                 layer.padding, groups=m)
                conv.weight.data.copy_(torch.cat([e.convs[i].weight.data for e in members]))
                conv.bias.data.copy_(torch.cat([e.convs[i].bias.data for e in members]))
                layers.append(conv)
            elif isinstance(layer, nn.BatchNorm2d):
                bn = nn.BatchNorm2d(layer.num_features * m)
                _copy_norm(bn, [e.convs[i] for e in members])
                layers.append(bn)
            else:
                layers.append(copy.deepcopy(layer))
        self.convs = nn.Sequential(*layers)
        first, norm = members[0].head[1], members[0].head[2]
        self.w1 = nn.Parameter(torch.stack([e.head[1].weight.data for e in members]))
        self.b1 = nn.Parameter(torch.stack([e.head[1].bias.data for e in members]))
        self.norm = nn.BatchNorm1d(norm.num_features * m)
        _copy_norm(self.norm, [e.head[2] for e in members])
        self.dropout = nn.Dropout(cfg.dropout)
        self.w2 = nn.Parameter(torch.stack([e.head[5].weight.data for e in members]))
        self.b2 = nn.Parameter(torch.stack([e.head[5].bias.data for e in members]))
        self.hidden, self.flat = first.out_features, first.in_features
        self.register_buffer("out_mean", members[0].out_mean.clone())
        self.register_buffer("out_scale", members[0].out_scale.clone())

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        batch = spec.shape[0]
        x = self.convs(spec).mean(dim=2).reshape(batch, self.m, self.flat)  # average pool over time
        h = torch.einsum("bmi,mhi->bmh", x, self.w1) + self.b1
        h = torch.relu(self.norm(h.reshape(batch, -1))).view(batch, self.m, self.hidden)
        out = torch.einsum("bmh,mfh->bmf", self.dropout(h), self.w2) + self.b2
        return self.out_mean + self.out_scale * out

    def member_state(self, i: int) -> dict[str, torch.Tensor]:
        """Member i's weights and batch-norm statistics, as a `VoiceEncoder` state dict."""
        state: dict[str, torch.Tensor] = {}
        for j, layer in enumerate(self.convs):
            if isinstance(layer, (nn.Conv2d, nn.BatchNorm2d)):
                for name, t in layer.state_dict().items():
                    state[f"convs.{j}.{name}"] = t if t.ndim == 0 else t.chunk(self.m)[i]
        for name, t in self.norm.state_dict().items():
            state[f"head.2.{name}"] = t if t.ndim == 0 else t.chunk(self.m)[i]
        state.update({"head.1.weight": self.w1[i], "head.1.bias": self.b1[i], "head.5.weight": self.w2[i],
                      "head.5.bias": self.b2[i], "out_mean": self.out_mean, "out_scale": self.out_scale})
        return {k: v.detach().clone().contiguous() for k, v in state.items()}

    def members(self) -> list[VoiceEncoder]:
        out = []
        for i in range(self.m):
            encoder = VoiceEncoder(self.cfg).to(self.out_mean.dtype)
            encoder.load_state_dict(self.member_state(i))
            out.append(encoder)
        return out


def _copy_norm(stacked: nn.Module, norms: list[nn.Module]) -> None:
    with torch.no_grad():
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(stacked, name).copy_(torch.cat([getattr(n, name) for n in norms]))


def pick_device() -> torch.device:
    """CUDA when present, else CPU: the same code path either way."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def forward_gflops(model: nn.Module, example: torch.Tensor) -> float:
    """Forward GFLOPs for one example (torch's FLOP counter; a multiply-add counts 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(example)
    return counter.get_total_flops() / 1e9
