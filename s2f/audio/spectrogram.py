"""The Speech2Face audio front end (Oh et al. 2019), exactly.

16 kHz mono, `seconds` long (shorter speech tiled); STFT with a 400-sample (25 ms) Hann window, hop 160
(10 ms), 512-point FFT, no centre padding; power-law compression sign(x)|x|^0.3 applied to the real and the
imaginary parts separately (not to magnitude and phase). 6 s gives a 2 x 598 x 257 tensor (part, time, freq).
"""

from __future__ import annotations

import numpy as np
import torch

SAMPLE_RATE = 16000
WIN, HOP, NFFT = 400, 160, 512
POWER = 0.3


def n_frames(seconds: float) -> int:
    return (int(round(seconds * SAMPLE_RATE)) - WIN) // HOP + 1


def tile_to(samples: np.ndarray, length: int) -> np.ndarray:
    """Repeat short speech until it fills `length` samples (the paper's tiling); cut longer audio."""
    if len(samples) == 0:
        raise ValueError("cannot tile empty audio")
    reps = -(-length // len(samples))
    return np.tile(samples, reps)[:length]


def spectrogram(samples: np.ndarray) -> np.ndarray:
    """(2, frames, 257) float32: compressed real and imaginary STFT parts of 16 kHz mono audio."""
    x = torch.from_numpy(np.ascontiguousarray(samples, np.float32))
    spec = torch.stft(x, n_fft=NFFT, hop_length=HOP, win_length=WIN, window=torch.hann_window(WIN),
                      center=False, return_complex=True)  # (257, frames)
    parts = torch.stack([spec.real, spec.imag]).transpose(1, 2)  # (2, frames, 257)
    return (torch.sign(parts) * parts.abs().pow(POWER)).numpy()
