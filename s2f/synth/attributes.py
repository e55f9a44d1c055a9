"""Latent speaker attributes of the synthetic corpus, and the voice they imply.

The couplings mimic what Speech2Face relies on (see README, "The synthetic corpus"):
- accent group -> skin tone and hair colour distributions ("accent and nationality go with appearance");
- gender, age and face size -> espeak-ng variant, pitch and speed ("mechanics of speech production");
- face size, mouth width and nose width -> formants: a longer vocal tract lowers them all, spread lips raise F2
  and F3, a wider nose adds low nasal resonance (the paper recovers the nasal index best of its measures);
- eye spacing, lip thickness, glasses, hair length, iris and background are drawn independently of the voice,
  so a voice cannot explain the whole face.
Every speaker is a pure function of (seed, index).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# Four abstract accent groups, each spoken with one English espeak-ng accent.
ACCENTS = ("en-us", "en-gb-x-rp", "en-gb-scotland", "en-029")
# Per group: mean skin tone (0 light .. 1 dark) and probability of light (blond/brown) hair.
GROUP_SKIN = (0.15, 0.40, 0.65, 0.85)
GROUP_LIGHT_HAIR = (0.55, 0.25, 0.08, 0.03)
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7")


@dataclass(frozen=True)
class Speaker:
    """One synthetic person: identity, face geometry and appearance, and voice settings."""

    speaker_id: str
    gender: str  # "m" or "f"
    age: int
    accent_group: int
    # Geometry, as fractions of the frame size or of the face width.
    face_width: float
    face_height: float
    jaw: float
    eye_spacing: float
    nose_width: float
    lip_thickness: float
    mouth_width: float
    # Appearance.
    skin_tone: float
    hair_color: float  # 0 black .. 1 blond
    hair_grey: float
    hair_length: float  # 0 bald .. 1 long
    beard: bool
    glasses: bool
    iris: int
    background: int
    # Voice (espeak-ng).
    accent: str
    variant: str
    pitch: int
    speed: int
    formant_scale: int  # % on every formant frequency (vocal tract length)
    f2_scale: int  # % on F2 and F3 frequencies (lip spreading)
    nasal: int  # % on the low nasal resonance's strength and F1's width

    def as_row(self) -> dict:
        return asdict(self)


def speaker_id(index: int) -> str:
    """VoxCeleb-style speaker id."""
    return f"id{index:05d}"


def sample_speaker(seed: int, index: int) -> Speaker:
    """Draw speaker `index` of the corpus with seed `seed` (independent of how many speakers there are)."""
    rng = np.random.default_rng([seed, index, 0x5F2])
    female = bool(rng.random() < 0.5)
    age = int(rng.integers(20, 71))
    group = int(rng.integers(0, len(ACCENTS)))
    sex = -1.0 if female else 1.0

    face_width = float(np.clip(rng.normal(0.215 + 0.012 * sex, 0.012), 0.17, 0.26))
    face_height = float(np.clip(rng.normal(0.295 + 0.010 * sex, 0.012), 0.25, 0.34))
    jaw = float(np.clip(rng.normal(0.78 + 0.07 * sex, 0.05), 0.6, 0.98))
    skin_tone = float(np.clip(rng.normal(GROUP_SKIN[group], 0.08), 0.0, 1.0))
    light_hair = rng.random() < GROUP_LIGHT_HAIR[group]
    hair_color = float(rng.uniform(0.55, 1.0) if light_hair else rng.uniform(0.0, 0.3))
    hair_grey = float(np.clip((age - 40) / 30 + rng.normal(0, 0.15), 0.0, 1.0))
    long_hair = 0.75 if female else 0.15
    hair_length = float(rng.uniform(0.55, 1.0) if rng.random() < long_hair else rng.uniform(0.0, 0.5))
    if not female and age > 45 and rng.random() < 0.3:
        hair_length = 0.0
    beard = bool(not female and rng.random() < 0.2 + 0.006 * (age - 20))

    # Voice-independent details.
    eye_spacing = float(rng.uniform(0.38, 0.50))
    nose_width = float(rng.uniform(0.16, 0.30))
    lip_thickness = float(rng.uniform(0.04, 0.10))
    mouth_width = float(rng.uniform(0.34, 0.52))
    glasses = bool(rng.random() < 0.25)
    iris = int(rng.integers(0, 4))
    background = int(rng.integers(0, 8))

    # Voice: gender picks the variant family; age and face size move pitch; age slows speech.
    variants = FEMALE_VARIANTS if female else MALE_VARIANTS
    variant = variants[int(rng.integers(0, len(variants)))]
    size_z = ((face_width - 0.215) / 0.02 + (face_height - 0.295) / 0.02) / 2
    age_z = (age - 45) / 15
    pitch = 50 - 12 * size_z - (8 if female else 3) * age_z + rng.normal(0, 6)
    speed = 170 - 1.1 * (age - 45) + rng.normal(0, 8)
    # Formants, drawn last so every earlier draw (and so the face) is unchanged by them.
    formant_scale = 100 - 3 * size_z + rng.normal(0, 1)
    f2_scale = 100 + 5 * (mouth_width - 0.43) / 0.052 + rng.normal(0, 1.5)
    nasal = 100 + 35 * (nose_width - 0.23) / 0.04 + rng.normal(0, 10)
    return Speaker(
        speaker_id=speaker_id(index), gender="f" if female else "m", age=age, accent_group=group,
        face_width=face_width, face_height=face_height, jaw=jaw, eye_spacing=eye_spacing, nose_width=nose_width,
        lip_thickness=lip_thickness, mouth_width=mouth_width, skin_tone=skin_tone, hair_color=hair_color,
        hair_grey=hair_grey, hair_length=hair_length, beard=beard, glasses=glasses, iris=iris,
        background=background, accent=ACCENTS[group], variant=variant,
        pitch=int(np.clip(round(pitch), 5, 95)), speed=int(np.clip(round(speed), 120, 220)),
        formant_scale=int(np.clip(round(formant_scale), 90, 110)), f2_scale=int(np.clip(round(f2_scale), 85, 115)),
        nasal=int(np.clip(round(nasal), 30, 200)),
    )
