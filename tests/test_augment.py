"""Training-time acoustic variety (s2f/models/augment.py) on the spectrogram of real synthetic speech: each effect
does to the power spectrum what its name says, and the draws repeat with the seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from s2f.audio.spectrogram import spectrogram, tile_to
from s2f.media import decode_audio
from s2f.models import augment as aug
from s2f.models.augment import FREQS, Augmentation, augment, to_complex, to_parts
from tests.conftest import espeak_wav


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> torch.Tensor:
    """(1, 2, 298, 257): 3 s of espeak-ng speech, as the audio stage stores it."""
    wav = espeak_wav(tmp_path_factory.mktemp("aug") / "s.wav", "Many young men and women know nothing about the moon.")
    return torch.from_numpy(spectrogram(tile_to(decode_audio(Path(wav)), 48000)))[None]


def _power(x: torch.Tensor) -> torch.Tensor:
    return x.abs() ** 2


def test_the_compression_round_trips_and_no_effect_is_the_identity(spec):
    assert torch.allclose(to_parts(to_complex(spec)), spec, atol=1e-5)
    assert augment(spec, Augmentation(), seed=3) is spec


def test_the_same_seed_draws_the_same_effects_and_another_seed_others(spec):
    every = Augmentation(reverb=1, eq=1, noise=1, band=1, codec=1, level_db=10)
    batch = spec.repeat(3, 1, 1, 1)
    first, again, other = augment(batch, every, 5), augment(batch, every, 5), augment(batch, every, 6)
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert not torch.equal(first[0], first[1])  # each example draws its own
    assert first.shape == batch.shape and torch.isfinite(first).all()


def test_band_limits_remove_what_a_telephone_or_low_pass_cuts(spec):
    x = to_complex(spec)[0]
    for seed in range(6):
        y = x * aug.band(torch.Generator().manual_seed(seed))
        kept = _power(y).sum(0) / _power(x).sum(0).clamp(min=1e-12)
        assert kept[FREQS > 7200].max() == 0  # every choice cuts above 7.2 kHz
        assert kept[(FREQS > 500) & (FREQS < 3200)].min() > 0.99  # and keeps the telephone band


def test_noise_lands_at_a_snr_in_its_range_and_reverb_fills_the_pauses(spec):
    x = to_complex(spec)[0]
    for seed in range(5):
        g = torch.Generator().manual_seed(seed)
        noisy = aug.noise(x, g)
        snr = 10 * torch.log10(_power(x).mean() / _power(noisy - x).mean())
        assert -1.5 < snr < 31.5
    frames = _power(x).sum(1)
    quiet = frames < frames.max() * 1e-4  # the pauses between words
    assert quiet.sum() > 5
    wet = _power(aug.reverb(x, torch.Generator().manual_seed(0))).sum(1)
    assert wet[quiet].mean() > 100 * frames[quiet].mean()
    assert abs(float(wet.sum() / frames.sum()) - 1) < 1.5  # the tail is at most a few dB of the whole


def test_level_moves_every_bins_power_by_the_same_gain(spec):
    out = augment(spec, Augmentation(level_db=12), seed=1)
    ratio = _power(to_complex(out)) / _power(to_complex(spec)).clamp(min=1e-12)
    gain_db = 10 * np.log10(ratio[_power(to_complex(spec)) > 1e-3].numpy())
    assert np.ptp(gain_db) < 0.01 and -12.01 < gain_db[0] < 12.01


def test_the_codec_drops_quiet_bins_and_keeps_loud_ones(spec):
    x = to_complex(spec)[0]
    y = aug.codec(x, torch.Generator().manual_seed(2))
    loud = (_power(x) >= 0.5 * _power(x).amax(1, keepdim=True)) & (_power(x) > 1e-6) & (FREQS < 4000)
    quiet = _power(x) < 1e-4 * _power(x).amax(1, keepdim=True)
    assert (_power(y)[quiet] == 0).all() and (_power(y)[loud] > 0).all()


def test_the_level_normalised_input_ignores_the_recordings_gain(spec):
    from s2f.audio.spectrogram import POWER
    from s2f.models.networks import level_log_power, log_power

    louder = spec * 10 ** (20 / 20 * POWER)  # +20 dB on every bin
    assert torch.allclose(level_log_power(louder), level_log_power(spec), atol=1e-4)
    assert not torch.allclose(log_power(louder), log_power(spec), atol=1)
    assert level_log_power(spec).min() >= np.log(1e-4) - 1e-4  # floored 40 dB below the clip's mean bin power


def test_microphone_band_and_level_alone_are_one_fixed_gain_per_frequency(spec):
    """Without reverb, noise or codec the parts are scaled in place: each bin's power changes by one factor over
    the whole clip (a linear filter), as the same gains in the complex domain would."""
    out = augment(spec, Augmentation(eq=1, band=1, level_db=6), seed=4)
    before, after = _power(to_complex(spec))[0], _power(to_complex(out))[0]
    voiced = before > 1e-2
    ratio = torch.where(voiced, after / before.clamp(min=1e-12), torch.nan)
    per_bin = torch.nanmedian(ratio, 0).values
    close = torch.isclose(ratio, per_bin.expand_as(ratio), rtol=1e-3, atol=1e-9) | ~voiced
    assert close.all() and per_bin[FREQS > 7200].nan_to_num(0).max() == 0
