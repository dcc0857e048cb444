"""Audio: WAV I/O, resampling and loudness, spectrograms and MFCCs, CTC decoding and error
rates, trigger-word data synthesis, and spoken data made on the machine (eSpeak NG or tones).

Submodules imported on use: ``trigger`` (the course's synthesis helpers, detection),
``trigger_data`` (datasets, training, detection on recordings), ``speech`` (the CTC
recognizer), ``synth`` (eSpeak NG, tone words, backgrounds), ``datasets`` (clip folders,
manifests), ``plot``."""

from dlkit.audio.ctc_decode import collapse, greedy_decode, prefix_beam_search
from dlkit.audio.features import (
    dct_ii,
    frames,
    get_window,
    hz_to_mel,
    log_mel_spectrogram,
    mel_filterbank,
    mel_to_hz,
    mfcc,
    spectrogram,
    stft,
)
from dlkit.audio.metrics import cer, edit_distance, wer
from dlkit.audio.signal import apply_gain, dbfs, match_target_amplitude, resample
from dlkit.audio.wav import WavError, read_wav, to_mono, write_wav

__all__ = [
    "WavError", "apply_gain", "dbfs", "dct_ii", "frames", "get_window", "hz_to_mel",
    "log_mel_spectrogram", "match_target_amplitude", "mel_filterbank", "mel_to_hz", "mfcc",
    "read_wav", "resample", "spectrogram", "stft", "to_mono", "write_wav", "cer", "collapse",
    "edit_distance", "greedy_decode", "prefix_beam_search", "wer",
]
