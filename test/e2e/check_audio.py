#!/usr/bin/env python3
"""ModRWKV with speech towers end to end: WAV files -> modrwkv-run --audio,
compared with a float64 reference of the whole pipeline (max|err| / std(ref)
<= 1e-3):

  whisper  a Whisper-style tower (log-mel input, Conv1d stack, blocks) and
           the speech conv adapter (Conv1d(d, 2C, k3, s2, p2), Linear(2C,
           2C) -> ReLU -> Linear(2C, C)); two clips: 44.1 kHz stereo int16
           (resampled, padded) and 16 kHz float32 longer than the tower's
           window (cut, as Whisper does);
  wavlm    a WavLM-style tower (raw waveform, normalized) and an adapter
           stacking K=5 frames (Linear(5 d, h) -> ReLU -> Linear(h, C),
           y + LN(y)); an 8 kHz 24-bit clip, resampled and zero-padded.

The reference resamples with torchaudio.functional.resample, computes the
log-mel spectrogram with torch.stft and torchaudio's Slaney mel filter bank
(Whisper's definition) and runs the towers in float64. Bad inputs: a sample
rate of 0 Hz, an out-of-range rate, a file that is not WAV, a truncated data
chunk, a clip longer than a waveform tower, an image config for an audio
tower, and media the artifact has no encoder for.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torchaudio

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "onnx"))
from check_multimodal import (BEGIN, END, PLACEHOLDER, TOLERANCE, VOCAB,  # noqa: E402
                              WIDTH, adapter_reference, model_reference,
                              rel_err)
from export_encoders import AudioEncoder, WavLMEncoder  # noqa: E402
from gen_checkpoint import make_state_dict  # noqa: E402
from harness import Checks, run, workspace  # noqa: E402

D_ENC, RATE, HOP, N_FFT, MELS, FRAMES = 48, 16000, 160, 400, 80, 64
WAVE_SAMPLES, STACK = 4000, 5


def write_wav(path, samples, rate, fmt):
    """`samples` [n, channels] in [-1, 1) as 16/24-bit PCM or float32;
    returns the values a reader must decode (the quantized samples)."""
    samples = np.asarray(samples, dtype=np.float64)
    channels = samples.shape[1]
    if fmt == "float32":
        data = samples.astype("<f4").tobytes()
        tag, bits, decoded = 3, 32, samples.astype(np.float32)
    else:
        bits = {"int16": 16, "int24": 24}[fmt]
        scale = 2 ** (bits - 1)
        q = np.clip(np.round(samples * scale), -scale, scale - 1)
        q = q.astype(np.int64)
        words = (q & (2 ** bits - 1)).astype("<u4").tobytes()
        data = b"".join(words[i:i + bits // 8]
                        for i in range(0, len(words), 4))
        tag, decoded = 1, q / scale
    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", tag, channels, rate, rate * block,
                            block, bits)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
            + b"data" + struct.pack("<I", len(data)) + data)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)
    return np.asarray(decoded, dtype=np.float64).mean(axis=1)


def resampled(mono, rate):
    x = torch.from_numpy(mono)
    return torchaudio.functional.resample(x, rate, RATE).numpy()


def log_mel(x, frames):
    """Whisper's log-mel spectrogram in float64 of `x` at 16 kHz."""
    samples = frames * HOP
    x = np.pad(x[:samples], (0, max(0, samples - len(x))))
    window = torch.hann_window(N_FFT, dtype=torch.float64)
    stft = torch.stft(torch.from_numpy(x), N_FFT, HOP, window=window,
                      center=True, pad_mode="reflect", return_complex=True)
    power = stft[:, :-1].abs() ** 2
    filters = torchaudio.functional.melscale_fbanks(
        N_FFT // 2 + 1, 0.0, RATE / 2, MELS, RATE, norm="slaney",
        mel_scale="slaney").double()
    mel = torch.log10(torch.clamp(filters.T @ power, min=1e-10))
    mel = torch.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).numpy()


def make_checkpoint(path, adapter, seed):
    """`llm.` + RWKV-7 keys and proj.* tensors of the shapes in `adapter`."""
    sd = make_state_dict(2, WIDTH, VOCAB, 4 * WIDTH, (16, 16, 8, 32), seed,
                         torch.float32)
    sd = {"llm." + k: v for k, v in sd.items()}
    g = torch.Generator().manual_seed(seed + 1)
    for name, shape in adapter.items():
        scale = 0.2 if name == "conv.weight" else 0.1
        sd["proj." + name] = torch.randn(*shape, generator=g) * scale
        if name == "pre_norm.weight":
            sd["proj." + name] += 1
    torch.save(sd, path)
    return {k: v.double().numpy() for k, v in sd.items()}


def export(model, example, path, input_name):
    torch.onnx.export(model.eval(), (example,), path, opset_version=17,
                      input_names=[input_name],
                      output_names=["last_hidden_state"])


def spliced(prompt_rows, before=(5,), between=(6,), after=(7,)):
    """A prompt with one BEGIN, placeholders, END group per clip."""
    tokens = list(before)
    for i, n in enumerate(prompt_rows):
        if i:
            tokens += list(between)
        tokens += [BEGIN] + [PLACEHOLDER] * n + [END]
    return tokens + list(after)


def main():
    tool, path = workspace(__doc__)
    checks = Checks()
    rng = np.random.default_rng(0)
    torch.manual_seed(0)

    # Whisper-style: log-mel [1, 80, 64] -> 32 frames of 48; conv adapter
    # with padding 2: (32 + 4 - 3) // 2 + 1 = 17 rows per clip.
    whisper = AudioEncoder(mels=MELS, frames=FRAMES, dim=D_ENC, depth=1)
    export(whisper, torch.zeros(1, MELS, FRAMES), path("whisper.onnx"),
           "input_features")
    with open(path("whisper_config.json"), "w") as f:
        json.dump({"feature_extractor_type": "WhisperFeatureExtractor",
                   "feature_size": MELS, "sampling_rate": RATE,
                   "hop_length": HOP, "n_fft": N_FFT,
                   "nb_max_frames": FRAMES}, f)
    sd = make_checkpoint(path("whisper.pth"), {
        "conv.weight": (2 * WIDTH, D_ENC, 3),
        "mlp.0.weight": (2 * WIDTH, 2 * WIDTH), "mlp.0.bias": (2 * WIDTH,),
        "mlp.2.weight": (WIDTH, 2 * WIDTH), "mlp.2.bias": (WIDTH,)}, seed=10)
    t = np.arange(22050) / 44100
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t),
                       0.3 * np.sin(2 * np.pi * 3000 * t)], 1)
    stereo += 0.05 * rng.standard_normal(stereo.shape)
    clips = [resampled(write_wav(path("a.wav"), stereo, 44100, "int16"),
                       44100)]
    long = 0.4 * rng.standard_normal((12800, 1))
    clips.append(write_wav(path("b.wav"), long, RATE, "float32"))
    whisper64 = whisper.double()
    with torch.no_grad():
        feats = [whisper64(torch.from_numpy(log_mel(c, FRAMES)[None]))[0]
                 .numpy() for c in clips]
    rows = [adapter_reference(sd, f, stride=2, padding=2) for f in feats]
    prompt = spliced([len(r) for r in rows])
    want = model_reference(sd, prompt, np.concatenate(rows))
    art = path("art-whisper")
    run([tool("modrwkv-compile"), path("whisper.pth"), "--encoder",
         path("whisper.onnx"), "--encoder-config", path("whisper_config.json"),
         "--opt-level", "2", "-o", art])
    with open(os.path.join(art, "manifest.json")) as f:
        pre = json.load(f)["multimodal"]["preprocess"]["audio"]
    checks(pre["kind"] == "log-mel" and pre["mel_bins"] == MELS and
           pre["frames"] == FRAMES, f"manifest: {pre}")
    proc = run([tool("modrwkv-run"), art, "--audio", path("a.wav"),
                "--audio", path("b.wav"), "--tokens",
                ",".join(map(str, prompt)), "--logits-out", path("w.npy")])
    err = rel_err(np.load(path("w.npy")), want)
    checks(err <= TOLERANCE,
           f"whisper: 44.1 kHz stereo int16 + 16 kHz float32 clips, "
           f"{len(prompt)} tokens: max|err|/std = {err:.2e}")
    checks("b.wav: 0.800 s long, the tower's window is 0.640 s" in
           proc.stderr.decode(), "the cut clip is reported on stderr")

    # WavLM-style: 4000 samples -> 199 frames of 48; K = 5 -> 39 rows.
    wavlm = WavLMEncoder(dim=D_ENC, depth=1)
    export(wavlm, torch.zeros(1, WAVE_SAMPLES), path("wavlm.onnx"),
           "input_values")
    sd = make_checkpoint(path("wavlm.pth"), {
        "mlp.0.weight": (128, STACK * D_ENC), "mlp.0.bias": (128,),
        "mlp.2.weight": (WIDTH, 128), "mlp.2.bias": (WIDTH,),
        "pre_norm.weight": (WIDTH,), "pre_norm.bias": (WIDTH,)}, seed=20)
    t = np.arange(1600) / 8000
    voice = 0.6 * np.sin(2 * np.pi * 300 * t) * np.exp(-3 * t)
    voice += 0.02 * rng.standard_normal(len(t))
    x = resampled(write_wav(path("c.wav"), voice[:, None], 8000, "int24"),
                  8000)
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    x = np.pad(x, (0, WAVE_SAMPLES - len(x)))
    with torch.no_grad():
        f = wavlm.double()(torch.from_numpy(x)[None])[0].numpy()
    rows = adapter_reference(sd, f, stack=STACK)
    prompt = spliced([len(rows)], after=(7, 8))
    want = model_reference(sd, prompt, rows)
    art = path("art-wavlm")
    proc = run([tool("modrwkv-compile"), path("wavlm.pth"), "--encoder",
                path("wavlm.onnx"), "--opt-level", "2", "--stats", "-o", art])
    checks("frame stacking read in place" in proc.stdout.decode(),
           "--stats: " + proc.stdout.decode().strip())
    run([tool("modrwkv-run"), art, "--audio", path("c.wav"), "--tokens",
         ",".join(map(str, prompt)), "--logits-out", path("v.npy")])
    err = rel_err(np.load(path("v.npy")), want)
    checks(err <= TOLERANCE,
           f"wavlm: 8 kHz 24-bit clip, K=5 stacking ({len(rows)} rows): "
           f"max|err|/std = {err:.2e}")

    # Bad inputs.
    def expect_run_error(label, wav, *fragments, artifact=art, flag="--audio"):
        checks.expect_error(label, [tool("modrwkv-run"), artifact, flag, wav,
                                    "--tokens", "5"], *fragments)

    for name, rate in [("rate0.wav", 0), ("rate500.wav", 500)]:
        write_wav(path(name), voice[:100, None], rate, "int16")
    expect_run_error("sample rate 0", path("rate0.wav"),
                     "rate0.wav: not a usable WAV file: sample rate 0 Hz")
    expect_run_error("sample rate 500 Hz", path("rate500.wav"),
                     "rate500.wav: sample rate 500 Hz is outside "
                     "1000..768000 Hz")
    with open(path("c.wav"), "rb") as f:
        data = f.read()
    with open(path("cut.wav"), "wb") as f:
        f.write(data[:-10])
    expect_run_error("truncated data chunk", path("cut.wav"),
                     "cut.wav: not a usable WAV file: truncated")
    expect_run_error("not a WAV file", path("wavlm.onnx"),
                     "wavlm.onnx: not a usable WAV file: no RIFF/WAVE header")
    expect_run_error("clip longer than the waveform tower", path("a.wav"),
                     "a.wav: 0.500 s long, the tower takes at most 0.250 s")
    expect_run_error("image given to an audio artifact", path("a.wav"),
                     "has no image encoder", flag="--image")
    with open(path("image_config.json"), "w") as f:
        json.dump({"image_mean": [0.5] * 3, "image_std": [0.5] * 3}, f)
    checks.expect_error(
        "image preprocessing for an audio tower",
        [tool("modrwkv-compile"), path("wavlm.pth"), "--encoder",
         path("wavlm.onnx"), "--encoder-config", path("image_config.json"),
         "-o", path("art-bad")],
        "image_config.json: has image_mean, but", "wavlm.onnx takes audio")
    checks.finish()


if __name__ == "__main__":
    main()
