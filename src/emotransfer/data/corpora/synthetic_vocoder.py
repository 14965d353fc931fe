"""The source-filter vocoder of the synthetic corpus: one utterance from a speaker, an emotion
and a text (:mod:`~emotransfer.data.corpora.synthetic_profiles`).

Signal model. An utterance is 1-3 voiced "syllables" separated by short pauses, with silence
before and after (1.0-2.5 s in all). The number of syllables and their vowels depend only on
the ``text_id``, so every speaker says every text in every emotion. Each syllable is

* a glottal pulse train (Rosenberg flow pulses, differentiated) following an F0 contour made
  of a declination over the utterance, a pitch accent on each syllable, a final fall and a
  slow drift; with per-cycle jitter (period) and shimmer (amplitude) perturbation,
* low-passed by a one-pole filter that sets the spectral tilt (tense to lax voice),
* mixed with high-passed aspiration noise at a given noise-to-voice ratio (breathiness),
* filtered by a cascade of three formant resonators for a vowel drawn from the text
  (/a e i o u/, Peterson & Barney), scaled by the speaker's vocal-tract factor,
* shaped by an attack/release envelope that follows the pitch accent.

The voiced part of the utterance is scaled to an RMS level in dBFS; a very quiet noise floor
is added; the peak stays below 0.9 (a gain reduction is applied only when needed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from emotransfer.data.corpora.synthetic_profiles import (
    NEUTRAL,
    VOWEL_FORMANTS,
    EmotionProsody,
    SpeakerProfile,
    TextPlan,
)

REFERENCE_LEVEL_DB = -25.0  # voiced RMS of neutral speech, dBFS
NOISE_FLOOR_DB = -72.0
PEAK_LIMIT = 0.89
MIN_DURATION_S, MAX_DURATION_S = 1.0, 2.5
ATTACK_S, RELEASE_S = 0.03, 0.06
FORMANT_BANDWIDTHS = np.array([80.0, 100.0, 140.0])


def synthesize_utterance(
    speaker: SpeakerProfile,
    prosody: EmotionProsody,
    text: TextPlan,
    rng: np.random.Generator,
    sample_rate: int,
) -> np.ndarray:
    """Synthesize one utterance as float64 samples in (-0.9, 0.9).

    Example:
        >>> from emotransfer.data.corpora.synthetic_profiles import (
        ...     EMOTIONS, speaker_profiles, text_plan)
        >>> speaker = speaker_profiles(1, seed=0)[0]
        >>> x = synthesize_utterance(speaker, EMOTIONS["anger"], text_plan(0, 1),
        ...     np.random.default_rng(0), 16000)
        >>> 1.0 <= len(x) / 16000 <= 2.5, bool(np.abs(x).max() < 0.9)
        (True, True)
    """
    expressive = speaker.expressiveness
    level_st = expressive * prosody.level_st + rng.normal(0.0, 1.0)
    range_st = (NEUTRAL.range_st + expressive * (prosody.range_st - NEUTRAL.range_st)) * float(
        rng.uniform(0.7, 1.3)
    )
    energy_db = expressive * prosody.energy_db + speaker.level_db + rng.normal(0.0, 1.5)
    tempo = speaker.tempo * float(rng.lognormal(0.0, 0.12))
    syllables_s = prosody.syllable_s * tempo * np.asarray(text.durations)
    syllables_s *= rng.uniform(0.85, 1.15, len(syllables_s))
    pauses_s = rng.uniform(0.08, 0.2, len(syllables_s) - 1) * prosody.syllable_s / 0.4 * tempo
    lead_s = float(rng.uniform(0.08, 0.2))
    tail_s = float(rng.uniform(0.1, 0.2))
    total_s = syllables_s.sum() + pauses_s.sum() + lead_s + tail_s
    if total_s > MAX_DURATION_S - 0.02:  # shrink speech, keep the emotion's proportions
        factor = (MAX_DURATION_S - 0.02 - lead_s - tail_s) / (total_s - lead_s - tail_s)
        syllables_s, pauses_s = syllables_s * factor, pauses_s * factor
    tail_s = max(tail_s, MIN_DURATION_S + 0.01 - (syllables_s.sum() + pauses_s.sum() + lead_s))

    lengths = np.maximum((syllables_s * sample_rate).astype(int), 1)
    f0_hz, accent = _f0_contour(lengths, speaker.f0_hz, level_st, range_st, rng, sample_rate)
    voice = _VoiceQuality.draw(prosody, speaker, rng)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    syllables = [
        _syllable(
            f0_hz[a:b], accent[a:b], _formants(vowel, speaker, prosody, rng), voice, rng,
            sample_rate,
        )
        for vowel, a, b in zip(text.vowels, bounds[:-1], bounds[1:])
    ]  # fmt: skip
    voiced_rms = np.sqrt(np.mean(np.concatenate(syllables) ** 2))
    gain = 10.0 ** ((REFERENCE_LEVEL_DB + energy_db) / 20.0) / max(voiced_rms, 1e-12)

    pieces = [np.zeros(int(lead_s * sample_rate))]
    for index, syllable in enumerate(syllables):
        if index:
            pieces.append(np.zeros(int(pauses_s[index - 1] * sample_rate)))
        pieces.append(gain * syllable)
    pieces.append(np.zeros(int(tail_s * sample_rate)))
    waveform = np.concatenate(pieces)
    waveform += 10.0 ** (NOISE_FLOOR_DB / 20.0) * rng.standard_normal(len(waveform))
    peak = np.abs(waveform).max()
    if peak > PEAK_LIMIT:
        waveform *= PEAK_LIMIT / peak
    return waveform


@dataclass(frozen=True)
class _VoiceQuality:
    jitter: float
    shimmer: float
    noise: float
    tilt: float

    @classmethod
    def draw(
        cls, prosody: EmotionProsody, speaker: SpeakerProfile, rng: np.random.Generator
    ) -> _VoiceQuality:
        spread = rng.uniform(0.75, 1.3, 3)
        return cls(
            jitter=prosody.jitter * spread[0],
            shimmer=prosody.shimmer * spread[1],
            noise=prosody.noise * speaker.noise_scale * spread[2],
            tilt=float(np.clip(prosody.tilt + speaker.tilt_offset + rng.normal(0, 0.03), 0, 0.95)),
        )


def _f0_contour(
    lengths: np.ndarray,
    base_hz: float,
    level_st: float,
    range_st: float,
    rng: np.random.Generator,
    sample_rate: int,
) -> tuple[np.ndarray, np.ndarray]:
    """F0 in Hz over the concatenated syllables, and the accent curve in semitones."""
    total = int(lengths.sum())
    position = np.arange(total) / max(total - 1, 1)  # 0..1 over the voiced time
    declination = (1.0 + 0.3 * range_st) * (0.5 - position)
    accent = np.zeros(total)
    start = 0
    for index, length in enumerate(lengths):
        x = np.linspace(0.0, 1.0, length)
        peak_at = rng.uniform(0.3, 0.65)
        warp = x ** (np.log(0.5) / np.log(peak_at))  # puts the sin^2 bump's top at peak_at
        size = range_st * rng.uniform(0.6, 1.0)
        accent[start : start + length] = size * np.sin(np.pi * warp) ** 2
        if index == len(lengths) - 1:
            accent[start : start + length] -= 0.5 * range_st * x**2  # final fall
        start += length
    t = np.arange(total) / sample_rate
    rate, phase = rng.uniform(2.0, 5.0, 2), rng.uniform(0.0, 2 * np.pi, 2)
    drift = 0.25 * np.sin(2 * np.pi * rate[:, None] * t + phase[:, None]).sum(axis=0)
    semitones = level_st + declination + accent + drift
    return base_hz * 2.0 ** (semitones / 12.0), accent


def _formants(
    vowel: int, speaker: SpeakerProfile, prosody: EmotionProsody, rng: np.random.Generator
) -> np.ndarray:
    """Formant frequencies of one syllable: vowel x vocal tract x emotion x a little noise."""
    scale = speaker.formant_scale * prosody.formant
    return VOWEL_FORMANTS[vowel] * scale * rng.uniform(0.95, 1.05, 3)


def _syllable(
    f0_hz: np.ndarray,
    accent_st: np.ndarray,
    formants_hz: np.ndarray,
    voice: _VoiceQuality,
    rng: np.random.Generator,
    sample_rate: int,
) -> np.ndarray:
    source = _glottal_source(f0_hz, voice.jitter, voice.shimmer, rng, sample_rate)
    source = signal.lfilter([1.0 - voice.tilt], [1.0, -voice.tilt], source)
    noise = np.diff(rng.standard_normal(len(source) + 1))  # first difference: high-passed
    noise *= voice.noise * _rms(source) / max(_rms(noise), 1e-12)
    filtered = signal.sosfilt(_formant_sos(formants_hz, sample_rate), source + noise)
    return filtered * _envelope(len(filtered), accent_st, sample_rate)


def _glottal_source(
    f0_hz: np.ndarray, jitter: float, shimmer: float, rng: np.random.Generator, sample_rate: int
) -> np.ndarray:
    """Differentiated Rosenberg pulses with per-cycle period and amplitude perturbation."""
    start_phase = rng.uniform(0.0, 1.0)
    cycles = start_phase + np.cumsum(f0_hz) / sample_rate
    count = int(cycles[-1]) + 2
    period_factor = 1.0 + jitter * rng.standard_normal(count)
    cycles = start_phase + np.cumsum(f0_hz * period_factor[cycles.astype(int)]) / sample_rate
    index = cycles.astype(int)
    frac = cycles - index
    opening, closing = 0.4, 0.16
    flow = np.where(
        frac < opening,
        0.5 * (1.0 - np.cos(np.pi * frac / opening)),
        np.where(
            frac < opening + closing,
            np.cos(0.5 * np.pi * (frac - opening) / closing),
            0.0,
        ),
    )
    amplitude = 1.0 + shimmer * rng.standard_normal(int(index[-1]) + 1)
    flow *= amplitude[index]
    return np.diff(flow, prepend=0.0)


def _formant_sos(formants_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """Cascade of unit-DC-gain two-pole resonators (Klatt 1980)."""
    frequency = np.minimum(formants_hz, 0.45 * sample_rate)
    radius = np.exp(-np.pi * FORMANT_BANDWIDTHS / sample_rate)
    a1 = -2.0 * radius * np.cos(2.0 * np.pi * frequency / sample_rate)
    a2 = radius**2
    zeros = np.zeros_like(a1)
    return np.stack([1.0 + a1 + a2, zeros, zeros, np.ones_like(a1), a1, a2], axis=1)


def _envelope(length: int, accent_st: np.ndarray, sample_rate: int) -> np.ndarray:
    """Raised-cosine attack and release; louder on the pitch accent (about 0.5 dB/st)."""
    envelope = 10.0 ** (0.5 * accent_st / 20.0)
    for ramp_s, sl in ((ATTACK_S, slice(None)), (RELEASE_S, slice(None, None, -1))):
        ramp = min(int(ramp_s * sample_rate), length // 2)
        shape = 0.5 * (1.0 - np.cos(np.pi * np.arange(ramp) / max(ramp, 1)))
        envelope[sl][:ramp] *= shape
    return envelope


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))
