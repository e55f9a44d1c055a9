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

import contextlib
import warnings
from dataclasses import asdict, dataclass

import torch
from torch import nn

from s2f.audio.spectrogram import bin_power
from s2f.models.speaker import DIM as SPEAKER_DIM, SpeakerEmbedding

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


class IdentityNet(nn.Module):
    """A small differentiable stand-in for dlib's face descriptor: face image -> 128-D direction of the descriptor
    around the train faces' mean. Fitted alongside the decoder on the real train crops (at `size` px), it gives the
    decoder an identity term that dlib's own network, not differentiable from here, cannot."""

    def __init__(self, size: int = 64, channels: tuple[int, ...] = (32, 64, 128, 128), dim: int = 128):
        super().__init__()
        self.size = size
        layers: list[nn.Module] = []
        prev = 3
        for ch in channels:
            layers += [nn.Conv2d(prev, ch, 3, stride=2, padding=1), nn.BatchNorm2d(ch), nn.LeakyReLU(0.2)]
            prev = ch
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(prev, dim))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.shape[-1] != self.size:
            image = nn.functional.interpolate(image, size=(self.size, self.size), mode="area")
        return nn.functional.normalize(self.net(image), dim=1)


# Speech2Face Table 1: (output channels, time max-pool after the block, stride).
PAPER_BLOCKS = ((64, False, 1), (64, False, 1), (128, True, 1), (128, True, 1), (128, True, 1), (256, True, 1),
                (512, False, 1), (512, False, 2), (512, False, 2))
PAPER_FC = 4096
ARCHS = ("conv1d", "paper")
SPEAKER = ("none", "concat", "only")


@dataclass(frozen=True)
class EncoderConfig:
    arch: str = "conv1d"  # conv1d (log power, 1-D convolutions over time) | paper (Speech2Face Table 1)
    frames: int = 298  # STFT frames of a training crop (298 = 3 s; the encoder pools over time, so any length runs)
    freq: int = 257
    feature_dim: int = 128
    channels: int = 128  # conv1d: channels of every conv layer
    layers: int = 4  # conv1d: conv layers
    kernel: int = 3  # conv1d: kernel length in frames
    input_norm: str = "none"  # conv1d: none | level (clip's mean log power) | utterance (per-frequency clip mean)
    hidden: int = 256  # the head's hidden layer (paper: PAPER_FC x width)
    width: float = 1.0  # paper: multiplier on every layer's channels and on PAPER_FC
    dropout: float = 0.0  # before the last FC layer (regularises small training sets)
    speaker: str = "none"  # the frozen speaker embedding (s2f/models/speaker.py): none | concat (beside the trunk) | only
    speaker_nuisance: int = 0  # channel directions projected out of the embedding (speaker.projection)
    speaker_keep: int = 0  # principal directions of the train embeddings kept (0: all; speaker.projection)
    speaker_tempo: int = 0  # speaking-rate directions projected out of the embedding (speaker.projection)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"unknown encoder arch {self.arch!r}; allowed: {', '.join(ARCHS)}")
        if self.speaker not in SPEAKER:
            raise ValueError(f"unknown encoder speaker {self.speaker!r}; allowed: {', '.join(SPEAKER)}")

    def to_json(self) -> dict:
        return asdict(self)


def _scaled(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))


def log_power(spec: torch.Tensor, floor: float = 1e-5) -> torch.Tensor:
    """(batch, 2, frames, freq) compressed complex spectrogram -> (batch, freq, frames) log power.

    The audio stage stores sign(x)|x|^0.3 of the real and imaginary parts (s2f/audio/spectrogram.py); undoing the
    compression gives each bin's power re^2 + im^2. `floor` keeps digital silence finite (log 1e-5 = -11.5, against
    about -7 for the corpus's mean bin).
    """
    return torch.log(bin_power(spec) + floor).transpose(1, 2)


def level_log_power(spec: torch.Tensor, floor_db: float = -40.0) -> torch.Tensor:
    """`log_power` of a clip at a fixed loudness: each bin's power over the clip's mean bin power, floored `floor_db`
    below that mean. The recording's gain then changes nothing, and digital silence and a quiet room's noise
    floor look alike."""
    power = bin_power(spec)
    power = power / power.mean((1, 2), keepdim=True).clamp(min=1e-12)
    return torch.log(power + 10 ** (floor_db / 10)).transpose(1, 2)


class LogPowerConvs(nn.Module):
    """The `conv1d` trunk: per-frame log power, standardised per frequency (batch norm without a learned scale),
    `layers` 1-D convolutions over time with the frequencies as channels (conv, batch norm, ReLU), then the mean
    and standard deviation of every channel over time (statistics pooling, as x-vectors do)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm1d(cfg.freq, affine=False)]
        prev = cfg.freq
        for _ in range(cfg.layers):
            layers += [nn.Conv1d(prev, cfg.channels, cfg.kernel, padding=cfg.kernel // 2), nn.BatchNorm1d(cfg.channels),
                       nn.ReLU()]
            prev = cfg.channels
        self.convs = nn.Sequential(*layers)
        self.norm = cfg.input_norm
        self.out_features = 2 * prev

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        if self.norm == "level":
            x = level_log_power(spec)
        else:
            x = log_power(spec)  # (batch, freq, frames)
            if self.norm == "utterance":
                x = x - x.mean(2, keepdim=True)
        x = self.convs(x)  # (batch, channels, frames)
        return torch.cat([x.mean(2), x.std(2)], 1)


class PaperConvs(nn.Module):
    """The `paper` trunk: Speech2Face Table 1's conv blocks over the complex spectrogram (conv 4x4, ReLU, batch
    norm; max-pools along time), averaged over time and flattened (channels x remaining frequencies)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        layers: list[nn.Module] = []
        prev, freq = 2, cfg.freq
        for ch, pool, stride in PAPER_BLOCKS:
            ch = _scaled(ch, cfg.width)
            conv = (nn.Conv2d(prev, ch, 4, padding="same") if stride == 1
                    else nn.Conv2d(prev, ch, 4, stride=stride, padding=1))
            layers += [conv, nn.ReLU(), nn.BatchNorm2d(ch)]
            if pool:
                layers.append(nn.MaxPool2d((2, 1)))
            if stride == 2:
                freq = (freq + 2 - 4) // 2 + 1
            prev = ch
        self.convs = nn.Sequential(*layers)
        self.out_features = prev * freq

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        return self.convs(spec).mean(dim=2).flatten(1)  # (batch, channels, time, freq): average pool over time


class VoiceEncoder(nn.Module):
    """(batch, 2, frames, 257) compressed complex spectrogram -> (batch, feature_dim) face feature.

    A trunk (`cfg.arch`: LogPowerConvs or the paper's PaperConvs) pools the clip over time; a head (FC, batch norm,
    ReLU, dropout, FC) maps that to the face feature, in units of the train faces' spread around their mean
    (`start_at`). The batch norm before the hidden ReLU keeps every unit alive: without it, training on a few hundred
    speakers silenced ~95% of the paper network's hidden units within two epochs.

    `spread` is for drawing only: `for_decoder` moves a prediction that many times as far from the train-mean face
    (s2f/models/spread.py), so the decoded face is as distinct as real faces are; retrieval ranks the prediction
    itself.
    """

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.trunk = None if cfg.speaker == "only" else LogPowerConvs(cfg) if cfg.arch == "conv1d" else PaperConvs(cfg)
        self.speaker = None if cfg.speaker == "none" else SpeakerEmbedding()
        if self.speaker is not None:  # what the embedding is projected on (speaker.projection; set in training)
            self.register_buffer("projection", torch.eye(SPEAKER_DIM))
        hidden = cfg.hidden if cfg.arch == "conv1d" else _scaled(PAPER_FC, cfg.width)
        inputs = (self.trunk.out_features if self.trunk else 0) + (SPEAKER_DIM if self.speaker else 0)
        # No dropout before the batch norm: its running variance would be the noisier training one, and at eval
        # the hidden layer would come out at ~0.7x its training spread (measured).
        self.head = nn.Sequential(nn.Linear(inputs, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                  nn.Dropout(cfg.dropout), nn.Linear(hidden, cfg.feature_dim))
        self.register_buffer("out_mean", torch.zeros(cfg.feature_dim))
        self.register_buffer("out_scale", torch.ones(cfg.feature_dim))
        self.register_buffer("spread", torch.ones(()))

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

    @torch.no_grad()
    def recentre(self, mean_prediction: torch.Tensor) -> None:
        """Move every prediction by the same vector so that `mean_prediction` (the mean over the train clips) lands
        on the train-mean face. InfoNCE ranks cosines to faces that share a large common part, so it leaves the
        predictions' common offset free, and training ends with every voice's face moved one way from the mean."""
        self.head[-1].bias.sub_((mean_prediction - self.out_mean) / self.out_scale)

    def forward(self, spec: torch.Tensor, speaker: torch.Tensor | None = None) -> torch.Tensor:
        """`speaker`: the clip's speaker embedding when already known (training reads it from a cache); computed
        from `spec` otherwise."""
        parts = [self.trunk(spec)] if self.trunk is not None else []
        if self.speaker is not None:
            emb = (self.speaker(spec) if speaker is None else speaker.to(spec.device)).float()
            emb = emb @ self.projection
            parts.append(emb * SPEAKER_DIM ** 0.5)  # unit vectors -> about unit variance per dimension
        return self.out_mean + self.out_scale * self.head(torch.cat(parts, 1))

    def for_decoder(self, feature: torch.Tensor) -> torch.Tensor:
        """A prediction moved `spread` times as far from the train-mean face, along its direction: what is drawn."""
        return self.out_mean + self.spread * (feature - self.out_mean)


def pick_device() -> torch.device:
    """CUDA when present, else CPU: the same code path either way."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def bf16_on(device: torch.device, precision: str) -> bool:
    """Whether training steps run in bf16: asked for (`bf16`), or `auto` on a GPU that has it (Ampere and later);
    `auto` on the CPU is fp32, the arithmetic the committed models and dvc.lock were made with."""
    if precision == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    return precision == "bf16"


def mixed_precision(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """What a training step's forward pass and loss run under: bf16 autocast (weights, gradients and the optimiser
    stay fp32; batch norm and the losses' reductions run in fp32, as autocast keeps them) or nothing."""
    if not bf16_on(device, precision):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def forward_gflops(model: nn.Module, example: torch.Tensor) -> float:
    """Forward GFLOPs for one example (torch's FLOP counter; a multiply-add counts 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(example)
    return counter.get_total_flops() / 1e9
