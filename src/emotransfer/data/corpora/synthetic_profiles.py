"""Who says what, how: the emotions, speakers and texts of the synthetic corpus.

Emotion parameters (pitch level and energy relative to neutral speech of the same speaker):

=========  =====  =====  ======  ========  ======  =======  =====  =====  =======  =====  =====
emotion    level  range  energy  syllable  jitter  shimmer  noise  tilt   formant  val.   arou.
           (st)   (st)   (dB)    (s)       (%)     (%)      ratio  pole   factor
=========  =====  =====  ======  ========  ======  =======  =====  =====  =======  =====  =====
anger      +4.0   5.0    +8.0    0.30      1.0     4.0      0.03   0.50   1.03     -0.6   0.8
happiness  +5.0   7.0    +5.0    0.31      0.8     4.0      0.05   0.65   1.06     0.7    0.6
neutral    0.0    3.0    0.0     0.40      0.6     3.0      0.06   0.78   1.00     0.0    0.0
sadness    -2.5   1.5    -6.0    0.55      1.2     6.0      0.20   0.90   0.97     -0.6   -0.5
fear       +6.0   3.0    +1.0    0.27      2.0     6.0      0.15   0.75   1.02     -0.7   0.7
boredom    -2.0   1.2    -4.0    0.55      0.8     4.0      0.10   0.86   0.98     -0.4   -0.6
disgust    -1.0   3.5    +1.0    0.45      1.2     5.0      0.10   0.78   0.98     -0.6   0.3
surprise   +6.0   8.0    +4.0    0.33      0.8     4.0      0.06   0.65   1.04     0.3    0.8
calm       -1.0   2.5    -4.0    0.48      0.5     3.0      0.10   0.85   1.00     0.4    -0.5
=========  =====  =====  ======  ========  ======  =======  =====  =====  =======  =====  =====

*level*: semitones added to the speaker's base F0; *range*: size of the pitch accents;
*energy*: voiced RMS level; *syllable*: mean voiced-segment duration (tempo; pauses scale
with it); *jitter*/*shimmer*: standard deviation of the per-cycle period / amplitude factor;
*noise ratio*: RMS of aspiration noise over RMS of the voiced source; *tilt pole*: pole of
the source low-pass, 0 = flat (tense) to 0.9 = steep (lax, breathy); *formant factor*: a
global formant shift (lip spreading in a smile, tension). Valence and arousal go to the
manifest.

Speakers alternate female and male (``s01`` female, ``s02`` male, ...). Each speaker has a
base F0 (female 190-230 Hz, male 100-130 Hz), a vocal-tract factor scaling the formants, a
loudness offset (+-3 dB), a personal tempo (0.85-1.2), an expressiveness that scales how far
emotions move level, range and energy from neutral, and a personal breathiness and tilt.
Every utterance adds its own random variation (level, range, energy, tempo, voice quality),
so classes overlap: the task is learnable, not trivial.

Every speaker and text has its own random stream derived from ``seed`` (:func:`speaker_profiles`,
:func:`text_plan`), so adding speakers leaves the existing ones unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Peterson & Barney (1952) male averages, Hz.
VOWEL_FORMANTS = np.array([
    [730.0, 1090.0, 2440.0],  # a
    [530.0, 1840.0, 2480.0],  # e
    [270.0, 2290.0, 3010.0],  # i
    [570.0, 840.0, 2410.0],  # o
    [300.0, 870.0, 2240.0],  # u
])  # fmt: skip

# Random-stream tags, so that speakers, texts and utterances draw independent numbers.
SPEAKER_STREAM, TEXT_STREAM, UTTERANCE_STREAM = 1, 2, 3


@dataclass(frozen=True)
class EmotionProsody:
    """Acoustic settings of one emotion; see the table in the module docstring."""

    level_st: float
    range_st: float
    energy_db: float
    syllable_s: float
    jitter: float
    shimmer: float
    noise: float
    tilt: float
    formant: float
    valence: float
    arousal: float


EMOTIONS: dict[str, EmotionProsody] = {
    "anger": EmotionProsody(4.0, 5.0, 8.0, 0.30, 0.010, 0.04, 0.03, 0.50, 1.03, -0.6, 0.8),
    "happiness": EmotionProsody(5.0, 7.0, 5.0, 0.31, 0.008, 0.04, 0.05, 0.65, 1.06, 0.7, 0.6),
    "neutral": EmotionProsody(0.0, 3.0, 0.0, 0.40, 0.006, 0.03, 0.06, 0.78, 1.00, 0.0, 0.0),
    "sadness": EmotionProsody(-2.5, 1.5, -6.0, 0.55, 0.012, 0.06, 0.20, 0.90, 0.97, -0.6, -0.5),
    "fear": EmotionProsody(6.0, 3.0, 1.0, 0.27, 0.020, 0.06, 0.15, 0.75, 1.02, -0.7, 0.7),
    "boredom": EmotionProsody(-2.0, 1.2, -4.0, 0.55, 0.008, 0.04, 0.10, 0.86, 0.98, -0.4, -0.6),
    "disgust": EmotionProsody(-1.0, 3.5, 1.0, 0.45, 0.012, 0.05, 0.10, 0.78, 0.98, -0.6, 0.3),
    "surprise": EmotionProsody(6.0, 8.0, 4.0, 0.33, 0.008, 0.04, 0.06, 0.65, 1.04, 0.3, 0.8),
    "calm": EmotionProsody(-1.0, 2.5, -4.0, 0.48, 0.005, 0.03, 0.10, 0.85, 1.00, 0.4, -0.5),
}
NEUTRAL = EMOTIONS["neutral"]


@dataclass(frozen=True)
class SpeakerProfile:
    """The voice of one synthetic speaker."""

    name: str
    gender: str
    f0_hz: float
    formant_scale: float
    level_db: float
    tempo: float
    expressiveness: float
    noise_scale: float
    tilt_offset: float


@dataclass(frozen=True)
class TextPlan:
    """What one ``text_id`` says: a vowel and a relative duration per syllable."""

    vowels: tuple[int, ...]
    durations: tuple[float, ...]


def speaker_profiles(num_speakers: int, seed: int) -> list[SpeakerProfile]:
    """Draw the voices of ``num_speakers`` speakers; speaker ``i`` depends only on ``seed, i``.

    Example:
        >>> [(s.name, s.gender) for s in speaker_profiles(3, seed=0)]
        [('s01', 'f'), ('s02', 'm'), ('s03', 'f')]
    """
    width = max(2, len(str(num_speakers)))
    profiles = []
    for index in range(num_speakers):
        rng = np.random.default_rng([seed, SPEAKER_STREAM, index])
        female = index % 2 == 0
        profiles.append(
            SpeakerProfile(
                name=f"s{index + 1:0{width}d}",
                gender="f" if female else "m",
                f0_hz=float(rng.uniform(190.0, 230.0) if female else rng.uniform(100.0, 130.0)),
                formant_scale=float(rng.uniform(1.12, 1.22) if female else rng.uniform(0.95, 1.05)),
                level_db=float(rng.uniform(-3.0, 3.0)),
                tempo=float(rng.uniform(0.85, 1.2)),
                expressiveness=float(rng.uniform(0.75, 1.15)),
                noise_scale=float(rng.uniform(0.7, 1.4)),
                tilt_offset=float(rng.uniform(-0.05, 0.05)),
            )
        )
    return profiles


def text_plan(seed: int, text_index: int) -> TextPlan:
    """Syllable count (1-3), vowels and relative durations of one text.

    Example:
        >>> 1 <= len(text_plan(0, 1).vowels) <= 3
        True
    """
    rng = np.random.default_rng([seed, TEXT_STREAM, text_index])
    count = int(rng.integers(1, 4))
    vowels = tuple(int(v) for v in rng.integers(0, len(VOWEL_FORMANTS), count))
    durations = tuple(float(d) for d in rng.uniform(0.75, 1.3, count))
    return TextPlan(vowels=vowels, durations=durations)
