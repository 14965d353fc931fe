"""Lossy codecs (mp3, ogg Vorbis, opus) through libsndfile, encoded and decoded in memory."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import soundfile
import soxr
from scipy import signal as sps

from emotransfer.data.corruptions.base import Corruption, as_mono, finish, fit_length

MAX_CODEC_DELAY = 4096  # samples; LAME adds 1105 (576 encoder + 529 decoder) when untagged
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
# libsndfile's CBR range in kbit/s per MPEG version, chosen by the sample rate.
MP3_KBPS_RANGES = ((32000, 32, 320), (16000, 8, 160), (0, 8, 64))
# Vorbis has VBR quality only: kbit/s measured per quality on mono babble at 16 kHz (at 44.1 kHz
# about 20 % more; noisier content more again).
VORBIS_KBPS_QUALITY = ((26.0, 0.0), (30.0, 0.3), (36.0, 0.6), (50.0, 1.0))


class CodecFormat(NamedTuple):
    """How soundfile writes one codec, and how a bit rate becomes its compression level."""

    container: str
    subtype: str
    rates: tuple[int, ...] | None  # None: any rate
    level: Callable[[int, int], float]  # (bit/s, sample rate) -> soundfile compression_level
    bitrate_mode: str | None


def _mp3_level(bitrate: int, sample_rate: int) -> float:
    # libsndfile sets kbps = int(high - level * (high - low)); LAME rounds to a legal rate.
    # Level 1.0 is refused by libsndfile, hence the 0.999 cap.
    low, high = next((lo, hi) for rate, lo, hi in MP3_KBPS_RANGES if sample_rate >= rate)
    return float(np.clip((high - bitrate / 1000 - 0.5) / (high - low), 0.0, 0.999))


def _opus_level(bitrate: int, sample_rate: int) -> float:
    # libsndfile sets the Opus target to (1 - level) * 250 kbit/s + 6 kbit/s per channel.
    return float(np.clip(1.0 - (bitrate - 6000) / 250000, 0.0, 1.0))


def _vorbis_level(bitrate: int, sample_rate: int) -> float:
    # libsndfile sets the Vorbis VBR quality to 1 - level.
    kbps, quality = zip(*VORBIS_KBPS_QUALITY, strict=True)
    return 1.0 - float(np.interp(bitrate / 1000, kbps, quality))


CODEC_FORMATS = {
    "mp3": CodecFormat("MP3", "MPEG_LAYER_III", MP3_RATES, _mp3_level, "CONSTANT"),
    "ogg": CodecFormat("OGG", "VORBIS", None, _vorbis_level, None),
    "opus": CodecFormat("OGG", "OPUS", OPUS_RATES, _opus_level, None),
}


class Codec(Corruption):
    """Encode and decode through a real lossy codec (libsndfile via soundfile, in memory).

    ``bitrate`` (bit/s) reaches the encoder through soundfile's ``compression_level`` (0..1):

    * ``mp3`` (LAME, constant bit rate): level = (high - kbps) / (high - low) with the
      libsndfile CBR range 32-320 kbit/s at >= 32 kHz, 8-160 at 16-24 kHz, 8-64 below; exact
      up to LAME's legal bit rates.
    * ``opus`` (VBR target): level = 1 - (bitrate - 6000) / 250000; exact target.
    * ``ogg`` (Vorbis, VBR quality = 1 - level): approximate, from ``VORBIS_KBPS_QUALITY``
      measured at 16 kHz; the real rate follows the content (at 16 kHz mono, roughly 25-50
      kbit/s for speech-like audio, up to 80 for noisy audio, whatever is asked).

    ``None`` keeps the codec's default. Rates the codec lacks (mp3: ``MP3_RATES``, opus:
    8/12/16/24/48 kHz) are resampled to the next supported rate and back. The decoded signal
    is aligned to the input by cross-correlation (codec delay, up to ``MAX_CODEC_DELAY``
    samples), then cut or zero-padded to the input length.

    Args:
        format: ``"mp3"``, ``"ogg"`` (Vorbis) or ``"opus"``.
        bitrate: target bit rate in bit/s (e.g. ``32000``), or ``None``.

    Example:
        >>> wave = 0.3 * np.sin(np.arange(16000) / 5.0)
        >>> coded = Codec(format="opus", bitrate=24000)(wave, 16000, np.random.default_rng(0))
        >>> coded.shape, bool(np.corrcoef(coded, wave)[0, 1] > 0.9)
        ((16000,), True)
    """

    name = "codec"

    def __init__(self, *, format: str = "mp3", bitrate: int | None = None) -> None:
        self.format = format
        self.bitrate = bitrate

    def __call__(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        wave = as_mono(wave)
        spec = self._spec()
        if wave.size == 0:
            return finish(wave)
        rate = _supported_rate(spec.rates, sample_rate)
        original = _resample(wave, sample_rate, rate)
        decoded = _align(self._encode_decode(original, rate, spec), original)
        return finish(fit_length(_resample(decoded, rate, sample_rate), wave.size))

    def _spec(self) -> CodecFormat:
        if self.format not in CODEC_FORMATS:
            raise ValueError(f"unknown codec {self.format!r}; known: {', '.join(CODEC_FORMATS)}")
        if self.bitrate is not None and self.bitrate < 1000:
            raise ValueError(f"bitrate is in bit/s (e.g. 32000), got {self.bitrate}")
        return CODEC_FORMATS[self.format]

    def _encode_decode(self, wave: np.ndarray, rate: int, spec: CodecFormat) -> np.ndarray:
        level = None if self.bitrate is None else spec.level(self.bitrate, rate)
        buffer = io.BytesIO()
        soundfile.write(
            buffer,
            np.clip(wave, -1.0, 1.0).astype(np.float32),
            rate,
            format=spec.container,
            subtype=spec.subtype,
            compression_level=level,
            bitrate_mode=spec.bitrate_mode if level is not None else None,
        )
        buffer.seek(0)
        decoded, _ = soundfile.read(buffer, dtype="float32", always_2d=True)
        return decoded[:, 0].astype(np.float64)


def _supported_rate(rates: tuple[int, ...] | None, sample_rate: int) -> int:
    if rates is None or sample_rate in rates:
        return sample_rate
    return next((rate for rate in rates if rate >= sample_rate), rates[-1])


def _resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    return wave if rate == target else soxr.resample(wave, rate, target, quality="HQ")


def _align(decoded: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Drop the codec delay: the lag in ``[0, MAX_CODEC_DELAY]`` of best cross-correlation."""
    max_lag = min(MAX_CODEC_DELAY, decoded.size - 1)
    if max_lag < 1 or not np.any(reference):
        return decoded
    head = decoded[: reference.size + max_lag]
    correlation = sps.correlate(head, reference, mode="full", method="fft")
    zero = reference.size - 1
    return decoded[int(np.argmax(correlation[zero : zero + max_lag + 1])) :]
