"""Latent speaker attributes of the synthetic corpus, and the voice they imply.

The couplings mimic what Speech2Face relies on (see README, "The synthetic corpus"):
- accent group -> skin tone and hair colour distributions ("accent and nationality go with appearance");
- gender, age and face size -> pitch (F0 in Hz, from measured adult ranges), speaking rate and the voice's timbre
  (an espeak-ng variant or a festival voice; some timbres are shared by both genders) ("mechanics of speech
  production");
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
# espeak-ng variants (timbres): women's, men's, and the Klatt synthesiser's, which either gender may get.
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "anika", "belinda", "linda", "steph")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "max", "paul", "rob", "robert", "travis")
SHARED_VARIANTS = ("klatt", "klatt2", "klatt3", "klatt4", "edward")
SHARED_SHARE = 0.3  # of espeak-ng speakers
# festival's English voices in Debian main, from recorded speech: CMU ARCTIC's slt (HTS) and CSTR's kal (diphones).
# kal speaks for men and, with a shorter vocal tract, for half the women: no engine tells the gender.
FESTIVAL_VOICES = {"f": "cmu_us_slt_arctic_hts", "m": "kal_diphone"}
FESTIVAL_SHARE = 0.25
# Women's vocal tracts are shorter: their formants lie ~15-20% above men's (Peterson & Barney 1952; Hillenbrand et
# al. 1995). The gendered timbres carry that already; the shared ones (Klatt variants, kal) get it from this
# shift (% on every formant, women over men), on top of what face size adds.
FEMALE_TRACT = 12.0
# Median F0 of adult speech, Hz (keyed by `female`): men ~85-180, women ~165-255 (docs/data.md, "Voices").
F0_MEDIAN = {False: 115.0, True: 205.0}
F0_SIZE = {False: 0.2, True: 0.15}  # log F0 per unit of face size (z) above the gender's average
F0_NOISE = {False: 0.09, True: 0.06}  # the rest of log F0's spread (total sd ~0.125 for men, ~0.095 for women)
SIZE_Z_SHIFT = 0.55  # men's mean face size (z) above the middle, women's below
F0_RANGE = {False: (75.0, 200.0), True: (130.0, 300.0)}


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
    # Voice.
    accent: str
    engine: str  # espeak (espeak-ng's formant synthesis) | festival (voices built from recorded speech)
    variant: str  # espeak-ng variant, or festival voice
    f0: float  # median pitch (Hz)
    f0_span: float  # highest over lowest pitch of the intonation
    speed: int  # words per minute
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

    # Voice, drawn after the face so that every face draw is independent of it (docs/data.md, "Voices").
    engine = "festival" if rng.random() < FESTIVAL_SHARE else "espeak"
    if engine == "festival":
        variant = FESTIVAL_VOICES["f" if female and rng.random() < 0.5 else "m"]
    else:
        pool = SHARED_VARIANTS if rng.random() < SHARED_SHARE else (FEMALE_VARIANTS if female else MALE_VARIANTS)
        variant = pool[int(rng.integers(0, len(pool)))]
    size_z = ((face_width - 0.215) / 0.02 + (face_height - 0.295) / 0.02) / 2
    # F0: log-normal around each gender's adult median. A bigger face than the gender's average (a larger larynx)
    # lowers it, and with age women's falls while men's rises a little after midlife; these explain about half of
    # its spread, so that pitch tells the face as well as cover the range of real voices.
    own_size = size_z - (-SIZE_Z_SHIFT if female else SIZE_Z_SHIFT)
    age_shift = -0.0025 * (age - 45) if female else 0.002 * max(age - 45, 0)
    log_f0 = np.log(F0_MEDIAN[female]) - F0_SIZE[female] * own_size + age_shift + F0_NOISE[female] * rng.normal()
    f0 = float(np.clip(np.exp(log_f0), *F0_RANGE[female]))
    f0_span = float(rng.uniform(1.25, 1.7))  # intonation: the highest pitch over the lowest
    speed = 175 - 1.1 * (age - 45) + rng.normal(0, 8)
    # Formants: a longer vocal tract lowers them all, spread lips raise F2 and F3, a wider nose adds nasal resonance.
    shared_timbre = variant in SHARED_VARIANTS or variant == FESTIVAL_VOICES["m"]
    formant_scale = 100 + (FEMALE_TRACT if female and shared_timbre else 0) - 4 * size_z + rng.normal(0, 1.5)
    f2_scale = 100 + 5 * (mouth_width - 0.43) / 0.052 + rng.normal(0, 1.5)
    nasal = 100 + 35 * (nose_width - 0.23) / 0.04 + rng.normal(0, 10)
    return Speaker(
        speaker_id=speaker_id(index), gender="f" if female else "m", age=age, accent_group=group,
        face_width=face_width, face_height=face_height, jaw=jaw, eye_spacing=eye_spacing, nose_width=nose_width,
        lip_thickness=lip_thickness, mouth_width=mouth_width, skin_tone=skin_tone, hair_color=hair_color,
        hair_grey=hair_grey, hair_length=hair_length, beard=beard, glasses=glasses, iris=iris,
        background=background, accent=ACCENTS[group], engine=engine, variant=variant, f0=round(f0, 1),
        f0_span=round(f0_span, 2), speed=int(np.clip(round(speed), 120, 240)),
        formant_scale=int(np.clip(round(formant_scale), 88, 124)), f2_scale=int(np.clip(round(f2_scale), 85, 115)),
        nasal=int(np.clip(round(nasal), 30, 200)),
    )
