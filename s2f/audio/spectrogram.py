"""The Speech2Face audio front end (Oh et al. 2019), exactly.

16 kHz mono, `seconds` long (shorter speech tiled); STFT with a 400-sample (25 ms) Hann window, hop 160
(10 ms), 512-point FFT, no centre padding; power-law compression sign(x)|x|^0.3 applied to the real and the
imaginary parts separately (not to magnitude and phase). 6 s gives a 2 x 598 x 257 tensor (part, time, freq).

Framing is done with `unfold` + `torch.fft.rfft` rather than `torch.stft`: torch.stft cuts frames of n_fft (512)
samples with the 400-sample window centred inside them, which gives 597 frames for 6 s and shifted phases;
the paper's TensorFlow front end cuts 400-sample frames and zero-pads each one to 512.

The arithmetic is float64 and the result is rounded once to float32 (and stored as float16): in float32, the
FFT and the power law round differently under each of torch's CPU kernels (default, AVX2, AVX-512), so stored
spectrograms differed between machines; float64 differences sit ~9 decimal digits below float32 rounding.
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


def bin_power(spec: torch.Tensor) -> torch.Tensor:
    """(batch, 2, frames, 257) stored parts -> (batch, frames, 257) each bin's power re^2 + im^2: the compression
    undone (|x|^0.3 back to |x|, squared, the two parts summed)."""
    return spec.abs().pow(2 / POWER).sum(1)


def spectrogram(samples: np.ndarray) -> np.ndarray:
    """(2, frames, 257) float32: compressed real and imaginary STFT parts of 16 kHz mono audio."""
    x = torch.from_numpy(np.asarray(samples, np.float32).astype(np.float64))
    frames = x.unfold(0, WIN, HOP) * torch.hann_window(WIN, dtype=torch.float64)  # (frames, 400), periodic Hann
    spec = torch.fft.rfft(frames, n=NFFT)  # (frames, 257)
    parts = torch.stack([spec.real, spec.imag])  # (2, frames, 257)
    return (torch.sign(parts) * parts.abs().pow(POWER)).to(torch.float32).numpy()
