"""Acoustic variety for voice training: what a room, a microphone, background noise and a lossy channel do to
speech, applied to a batch of stored spectrograms on the fly.

The synthetic voices are clean, dry and full-band; real recordings are not. Each effect is applied in the STFT
domain, where it is (close to) what the same effect does to the waveform:
- `reverb`: a diffuse late tail (Polack's model): each bin's past frames, with random phases and an exponential
  decay reaching -60 dB after RT60 (shorter at high frequencies), added at a direct-to-reverberant ratio;
- `eq`: a microphone's or room's colouring, a smooth random gain curve over frequency (a linear filter);
- `noise`: stationary coloured Gaussian noise (white to brown) at a signal-to-noise ratio;
- `band`: band-limiting, from 8 kHz telephone speech (300-3400 Hz) to a 7 kHz low-pass;
- `codec`: a perceptual codec at a low bitrate: the bins it cannot afford (those far below their frame's peak)
  zeroed, the rest quantised with a few percent of error, above a band limit;
- `level`: the recording's gain.
Every example draws its own effects from `torch.Generator`s seeded by (seed, epoch, batch): a run is repeatable and
a resumed run draws what an uninterrupted one would.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from s2f.audio.spectrogram import HOP, NFFT, POWER, SAMPLE_RATE

FREQS = torch.arange(NFFT // 2 + 1, dtype=torch.float32) * SAMPLE_RATE / NFFT  # Hz of each STFT bin
TELEPHONE = (300.0, 3400.0)
LOWPASS_HZ = (4000.0, 5500.0, 7000.0)


@dataclass(frozen=True)
class Augmentation:
    """The probability of each effect per training example, and the level range (dB); all 0: no augmentation."""

    reverb: float = 0.0
    eq: float = 0.0
    noise: float = 0.0
    band: float = 0.0
    codec: float = 0.0
    level_db: float = 0.0  # gain drawn uniformly in [-level_db, +level_db]

    @property
    def active(self) -> bool:
        return any((self.reverb, self.eq, self.noise, self.band, self.codec, self.level_db))


def to_complex(spec: torch.Tensor) -> torch.Tensor:
    """(batch, 2, frames, freq) compressed parts -> (batch, frames, freq) complex STFT (s2f/audio/spectrogram.py)."""
    lin = spec.sign() * spec.abs().pow(1 / POWER)
    return torch.complex(lin[:, 0], lin[:, 1])


def to_parts(x: torch.Tensor) -> torch.Tensor:
    """The inverse of `to_complex`."""
    parts = torch.stack([x.real, x.imag], 1)
    return parts.sign() * parts.abs().pow(POWER)


def _uniform(g: torch.Generator, lo: float, hi: float, n: int = 1) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def _cnormal(g: torch.Generator, *shape: int) -> torch.Tensor:
    """Circular complex Gaussian samples of unit power."""
    return torch.complex(torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)) / math.sqrt(2)


def reverb(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """(frames, freq) complex: a diffuse tail with RT60 in 0.2-1.0 s and a direct-to-reverberant ratio in 0-15 dB."""
    rt60 = float(_uniform(g, 0.2, 1.0))
    drr_db = float(_uniform(g, 0.0, 15.0))
    rt = rt60 * (1 - 0.5 * FREQS / FREQS[-1])  # air and walls absorb high frequencies sooner
    taps = min(int(rt60 / (HOP / SAMPLE_RATE)), x.shape[0])
    k = torch.arange(1, taps + 1, dtype=torch.float32)[:, None]
    decay = 10 ** (-3 * k * (HOP / SAMPLE_RATE) / rt)  # amplitude, -60 dB in power at rt
    decay = decay * torch.sqrt(10 ** (-drr_db / 10) / (decay**2).sum(0, keepdim=True))
    kernel = torch.cat([torch.ones(1, x.shape[1], dtype=x.dtype), decay * _cnormal(g, taps, x.shape[1])])
    n = x.shape[0] + taps
    return torch.fft.ifft(torch.fft.fft(x, n=n, dim=0) * torch.fft.fft(kernel, n=n, dim=0), dim=0)[: x.shape[0]]


def eq(g: torch.Generator) -> torch.Tensor:
    """A smooth gain curve (per bin): a tilt of up to +-6 dB across the band plus three ripples of up to +-4 dB."""
    f = FREQS / FREQS[-1]
    gain_db = _uniform(g, -6, 6) * (f - 0.5)
    for _ in range(3):
        gain_db = gain_db + _uniform(g, -4, 4) * torch.cos(2 * math.pi * (_uniform(g, 0.3, 3) * f + _uniform(g, 0, 1)))
    return 10 ** (gain_db / 20)


def noise(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Stationary noise with a power spectrum proportional to f^beta (beta in -2..0.5) at 0-30 dB SNR."""
    snr_db = float(_uniform(g, 0.0, 30.0))
    shape = (FREQS.clamp(min=50.0) / 1000.0) ** float(_uniform(g, -2.0, 0.5))
    speech = (x.abs() ** 2).mean()
    if speech <= 0:
        return x
    scale = torch.sqrt(speech / 10 ** (snr_db / 10) / shape.mean())
    return x + scale * torch.sqrt(shape) * _cnormal(g, *x.shape)


def _passband(low: float, high: float) -> torch.Tensor:
    """A gain per bin: 1 between `low` and `high` Hz, rolling off over 200 Hz either side."""
    return ((FREQS - low) / 200 + 1).clamp(0, 1) * ((high - FREQS) / 200 + 1).clamp(0, 1)


def band(g: torch.Generator) -> torch.Tensor:
    """A gain per bin: the telephone band (300-3400 Hz) half the time, else a low-pass at 4, 5.5 or 7 kHz."""
    if float(_uniform(g, 0, 1)) < 0.5:
        return _passband(*TELEPHONE)
    return _passband(0.0, LOWPASS_HZ[int(torch.randint(len(LOWPASS_HZ), (1,), generator=g))])


def codec(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Bins more than 20-40 dB below their frame's loudest zeroed, the rest with 2-10% error, a 4-7 kHz band."""
    floor = 10 ** (-float(_uniform(g, 20, 40)) / 10)
    power = x.abs() ** 2
    kept = power >= floor * power.amax(1, keepdim=True)
    jitter = 1 + float(_uniform(g, 0.02, 0.1)) * torch.randn(x.shape, generator=g)
    return x * kept * jitter * _passband(0.0, float(_uniform(g, 4000, 7000)))


def augment(spec: torch.Tensor, a: Augmentation, seed: int, index: Sequence[int] | None = None) -> torch.Tensor:
    """A (batch, 2, frames, freq) batch with each example's effects drawn from a generator seeded by `seed` + its
    index; the order is a recording's: room, microphone, background, channel, gain. The gains (microphone, band,
    level) scale the stored parts directly (a positive gain g on a bin is g^0.3 on its compressed parts); only the
    examples that get reverb, noise or the codec are taken to the complex STFT and back. `index`: each example's
    position in its batch where this is a part of it (a process's share in data-parallel training)."""
    if not a.active:
        return spec
    out = spec.float().clone()
    for i in range(len(spec)):
        g = torch.Generator().manual_seed(seed * 1009 + (i if index is None else index[i]))
        on = {name: float(_uniform(g, 0, 1)) < prob for name, prob in
              (("reverb", a.reverb), ("eq", a.eq), ("noise", a.noise), ("band", a.band), ("codec", a.codec))}
        mic = eq(g) if on["eq"] else torch.ones(len(FREQS))
        channel = band(g) if on["band"] else torch.ones(len(FREQS))
        level = 10 ** (float(_uniform(g, -a.level_db, a.level_db)) / 20) if a.level_db else 1.0
        if not (on["reverb"] or on["noise"] or on["codec"]):
            out[i] = out[i] * (mic * channel * level) ** POWER
            continue
        y = to_complex(out[i:i + 1])[0]
        y = reverb(y, g) if on["reverb"] else y
        y = noise(y * mic, g) if on["noise"] else y * mic
        y = codec(y * channel, g) if on["codec"] else y * channel
        out[i] = to_parts((y * level)[None])[0]
    return out.to(spec.dtype)
