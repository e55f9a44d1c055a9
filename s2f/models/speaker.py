"""A frozen speaker embedding trained on real speech, computed from the stored spectrogram: resemblyzer's GE2E
encoder (Wan et al. 2018; 3 LSTM layers over 40 mel bands, trained by its authors on thousands of real speakers
of LibriSpeech and VoxCeleb 1 and 2), read from the weights bundled in the resemblyzer wheel (checked by hash).

A voice encoder trained on a few hundred synthetic speakers has to learn from them alone what a real recording
channel does to a voice; this network has heard real rooms, microphones and codecs. The voice encoder's head reads
its embedding alone by default, or beside the encoder's own convolutional features (`EncoderConfig.speaker`).

Its input is what resemblyzer computes from a waveform (16 kHz, 25 ms Hann windows every 10 ms, the power in 40
mel bands, the recording at -30 dBFS), here from the Speech2Face spectrogram the audio stage stores: the
compression undone, the power summed into the same mel bands (a 512-point FFT of the same 400-sample frames:
the band powers come out 512/400 times resemblyzer's, which is divided out), the level set from the frames'
mean power (Parseval). The band powers agree with resemblyzer's own to about 2% on real clips.

Like resemblyzer's `embed_utterance`, a clip's embedding is the normalised mean of the embeddings of its
1.6 s partials (160 frames), one every 0.8 s from its start; a clip shorter than 1.6 s is one partial.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from s2f.audio.spectrogram import NFFT, SAMPLE_RATE, WIN, bin_power
from s2f.errors import InputError
from s2f.hashing import sha256_file

MELS, HIDDEN, DIM = 40, 256, 256
PARTIAL, PARTIAL_HOP = 160, 80  # frames: 1.6 s partials every 0.8 s
LEVEL_DBFS = -30.0
TEMPOS = (0.9, 1.1)  # speaking rates (x the clip's) whose embedding shifts give the tempo directions (`projection`)
WINDOW_ENERGY = float((torch.hann_window(WIN, dtype=torch.float64) ** 2).sum())  # sum of the frames' window squared
# resemblyzer 0.1.4's pretrained.pt
WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"


def partial_starts(frames: int) -> list[int]:
    """First frames of the partials of a `frames`-long spectrogram (one, at 0, when it is shorter than a partial)."""
    return list(range(0, frames - PARTIAL + 1, PARTIAL_HOP)) or [0]


class SpeakerEmbedding(nn.Module):
    """(batch, 2, frames, 257) compressed complex spectrogram -> (batch, 256) unit speaker embedding. Frozen:
    its weights are resemblyzer's (`load_pretrained`) and never train; the model file stores them."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mel_bands", torch.zeros(MELS, NFFT // 2 + 1))
        self.lstm = nn.LSTM(MELS, HIDDEN, 3, batch_first=True)
        self.linear = nn.Linear(HIDDEN, DIM)
        self.requires_grad_(False)

    def train(self, mode: bool = True) -> SpeakerEmbedding:  # noqa: ARG002 - always inference
        return super().train(False)

    @torch.no_grad()
    def load_pretrained(self) -> SpeakerEmbedding:
        """resemblyzer's weights and librosa's mel bands (what resemblyzer's own front end uses)."""
        import importlib.util

        import librosa

        spec = importlib.util.find_spec("resemblyzer")  # its file, without importing it (and webrtcvad's warning)
        path = Path(spec.origin).parent / "pretrained.pt" if spec and spec.origin else Path("resemblyzer/pretrained.pt")
        if not path.is_file():
            raise InputError(f"{path}: missing (resemblyzer's speaker encoder weights); reinstall with `make setup`")
        if sha256_file(path) != WEIGHTS_SHA256:
            raise InputError(f"{path}: not resemblyzer 0.1.4's speaker encoder weights (sha256 differs); reinstall "
                             "resemblyzer==0.1.4 with `make setup`")
        state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
        self.lstm.load_state_dict({k[len("lstm."):]: v for k, v in state.items() if k.startswith("lstm.")})
        self.linear.load_state_dict({k[len("linear."):]: v for k, v in state.items() if k.startswith("linear.")})
        bands = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=NFFT, n_mels=MELS)
        self.mel_bands.copy_(torch.from_numpy(bands) * (WIN / NFFT))
        return self

    def mel(self, spec: torch.Tensor) -> torch.Tensor:
        """(batch, frames, 40) band powers of the clip at -30 dBFS."""
        power = bin_power(spec.float())  # (batch, frames, 257)
        both_sides = power[..., 0] + 2 * power[..., 1:-1].sum(-1) + power[..., -1]
        mean_square = both_sides.mean(-1) / (NFFT * WINDOW_ENERGY)  # Parseval: the windowed frames' mean square
        gain = 10 ** (LEVEL_DBFS / 10) / mean_square.clamp(min=1e-12)
        return (power * gain[:, None, None]) @ self.mel_bands.T

    def partials(self, spec: torch.Tensor, tempo: float = 1.0) -> torch.Tensor:
        """(batch, partials, 256): the unit embedding of each partial (`partial_starts`); `tempo` other than 1: of the
        clip spoken that many times as fast (`stretch`)."""
        mel = stretch(self.mel(spec), tempo)
        starts = partial_starts(mel.shape[1])
        pieces = torch.stack([mel[:, s:s + PARTIAL] for s in starts], 1)  # (batch, partials, frames, 40)
        _, (hidden, _) = self.lstm(pieces.flatten(0, 1))
        emb = nn.functional.normalize(torch.relu(self.linear(hidden[-1])), dim=1)
        return emb.view(len(spec), len(starts), DIM)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        return mean_of(self.partials(spec))


def stretch(mel: torch.Tensor, tempo: float) -> torch.Tensor:
    """(batch, frames, bands) band powers as if spoken `tempo` times as fast: the frames resampled (linear) to
    frames / tempo, so the pitch and the spectrum stay and only the rate of speech changes."""
    if tempo == 1.0:
        return mel
    frames = max(1, round(mel.shape[1] / tempo))
    return nn.functional.interpolate(mel.transpose(1, 2), size=frames, mode="linear",
                                     align_corners=True).transpose(1, 2)


def mean_of(partials: torch.Tensor) -> torch.Tensor:
    """The clip's embedding: the normalised mean of its partials' (batch, partials, 256)."""
    return nn.functional.normalize(partials.mean(1), dim=1)


def projection(views: torch.Tensor, nuisance: int, keep: int, stretched: torch.Tensor | None = None,
               tempo: int = 0) -> torch.Tensor:
    """(256, 256) the projection the encoder applies to an embedding, from the whole-clip embeddings of each view of
    train clips (`views`: clips, 1 + copies, 256) and of the same clips at the `TEMPOS` rates (`stretched`: clips,
    rates, 256):
    - `nuisance` directions removed: the top principal directions of (augmented view - clean view), along which a
      clip's embedding moves most when only its recording changes (nuisance attribute projection, as in speaker
      verification);
    - `tempo` directions removed beside them: the top principal directions of (the clip at another speaking rate -
      the clip), so the head cannot read the rate of speech, which real speakers set by the occasion (an interview,
      a reading) far more than the corpus's age coupling does (docs/evaluation.md, "Speaking rate");
    - of what remains, the `keep` directions the train embeddings vary most along (0: all), so that a direction
      no train clip moves along (a real recording's offset from synthetic speech, say) reaches no weight."""
    dim = views.shape[-1]
    eye = torch.eye(dim, dtype=torch.float64)
    out = eye
    diffs = (views[:, 1:] - views[:, :1]).reshape(-1, dim).double()
    removed = []
    if nuisance and len(diffs):
        removed.append(torch.linalg.svd(diffs, full_matrices=False)[2][:nuisance])
    if tempo and stretched is not None and len(stretched):
        shifts = (stretched - views[:, :1]).reshape(-1, dim).double()
        removed.append(torch.linalg.svd(shifts, full_matrices=False)[2][:tempo])
    if len(removed) == 1:  # one set (the default): its rows are orthonormal already, and the figures stay as before
        out = eye - removed[0].T @ removed[0]
    elif removed:  # the span of both sets: an orthonormal basis of it first
        basis, _ = torch.linalg.qr(torch.cat(removed).T)
        out = eye - basis @ basis.T
    if keep:
        flat = views.reshape(-1, dim).double() @ out
        _, _, vt = torch.linalg.svd(flat - flat.mean(0), full_matrices=False)
        out = vt[:keep].T @ vt[:keep]
    return out.float()


def crop_partials(starts_in_clip: list[int], crop_start: int, crop_frames: int) -> list[int]:
    """Which of a clip's partials (by index) lie inside the crop [crop_start, crop_start + crop_frames): the partials
    the crop's own grid would have, up to where the clip's grid falls (at least one)."""
    inside = [i for i, s in enumerate(starts_in_clip) if s >= crop_start and s + PARTIAL <= crop_start + crop_frames]
    if inside:
        return inside
    nearest = min(range(len(starts_in_clip)), key=lambda i: abs(starts_in_clip[i] - crop_start))
    return [nearest]
