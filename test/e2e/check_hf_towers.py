#!/usr/bin/env python3
"""Encoder towers as users export them: Hugging Face transformers models
(random weights from small configs; nothing is downloaded) exported with
torch.onnx.export at opset 17.

- CLIP and SigLIP vision towers, each with the preprocessor_config.json its
  transformers image processor writes (CLIP: shortest edge + center crop,
  bicubic, OpenAI mean/std; SigLIP: fixed size, mean/std 0.5), compiled with
  a random ModRWKV adapter and RWKV-7: the logits for a prompt with an image
  must match a float64 reference that runs the transformers processor and
  model (max|err|/std <= 1e-3);
- the Whisper encoder with the preprocessor_config.json of transformers'
  WhisperFeatureExtractor (1 s window) and the speech conv adapter: the
  logits for a prompt with a 16 kHz clip against a float64 reference that
  runs the transformers feature extractor and encoder.

- the WavLM encoder (ModRWKV's speech tower) with the config of
  transformers' Wav2Vec2FeatureExtractor (normalized waveform) and the K = 5
  frame-stacking adapter, the same comparison.

Each is compiled for the CPU and for CUDA (--cuda-emulator: the tower,
adapter and language model as kernels run by the CUDA emulator).

Exits 77 (skipped) when transformers is not installed (tools/setup.sh
installs it).
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, os.pardir, "onnx"))
from check_multimodal import (BEGIN, D_ENC, END, PLACEHOLDER,  # noqa: E402
                              TOLERANCE, WIDTH, adapter_reference,
                              make_checkpoint, model_reference, rel_err)
from check_audio import make_checkpoint as speech_checkpoint  # noqa: E402
from check_audio import spliced, write_wav  # noqa: E402
from export_encoders import export  # noqa: E402
from harness import Checks, run, workspace  # noqa: E402

IMAGE = 32
SKIPPED = 77


class Hidden(torch.nn.Module):
    """A transformers model's last_hidden_state: the features ModRWKV's
    adapters take."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)[0]


def pipeline_error(tool, path, name, checkpoint, medium, want, tokens):
    """Compiles `checkpoint` with the tower and processor config exported to
    the folder `name`, for the CPU and for CUDA (on the CUDA emulator: the
    tower as kernels), runs `tokens` with `medium` (("--image", file) or
    ("--audio", file)) and returns {target: max|err|/std of the logits}."""
    folder = path(name)
    emulator = os.path.join(tool(os.pardir), "lib",
                            "libmodrwkv_cuda_emulator.so")
    errors = {}
    for target, options, env in [
            ("cpu", [], None),
            ("cuda, emulated", ["--target", "cuda", "--cuda-emulator"],
             dict(os.environ, MODRWKV_LIBCUDA=emulator))]:
        art = path(f"{name}-{target.split(',')[0]}-art")
        run([tool("modrwkv-compile"), checkpoint, "--encoder",
             os.path.join(folder, "model.onnx"), "--encoder-config",
             os.path.join(folder, "preprocessor_config.json"), "-o", art,
             "--opt-level", "2"] + options)
        run([tool("modrwkv-run"), art, *medium, "--tokens",
             ",".join(map(str, tokens)), "--logits-out", path("logits.npy")],
            env=env)
        errors[target] = rel_err(np.load(path("logits.npy")), want)
    return errors


def speech_error(tool, path, name, sd, model, inputs, clip, **adapter):
    """pipeline_error for a speech tower `model` that the transformers
    feature extractor's `inputs` (of `clip`) feed in the reference; returns
    the adapter's row count and the errors."""
    with torch.no_grad():
        features = Hidden(model.double())(inputs.double())[0].numpy()
    rows = adapter_reference(sd, features, **adapter)
    tokens = spliced([len(rows)])
    want = model_reference(sd, tokens, rows)
    return len(rows), pipeline_error(tool, path, name, path(name + ".pth"),
                                     ("--audio", clip), want, tokens)


def main():
    tool, path = workspace(__doc__)
    try:
        import transformers as hf
    except ImportError:
        print("SKIP: transformers is not installed (tools/setup.sh installs "
              "it)")
        return SKIPPED
    from PIL import Image

    torch.manual_seed(0)
    checks = Checks()
    small = dict(hidden_size=D_ENC, intermediate_size=2 * D_ENC,
                 num_hidden_layers=2, num_attention_heads=4,
                 image_size=IMAGE, patch_size=8)
    siglip = hf.SiglipVisionModel(hf.SiglipVisionConfig(**small))
    # padding="valid" (the same as 0) has no ONNX export in torch 1.13.
    siglip.vision_model.embeddings.patch_embedding.padding = (0, 0)
    towers = {
        "clip": (hf.CLIPVisionModel(hf.CLIPVisionConfig(**small)),
                 hf.CLIPImageProcessor(
                     size={"shortest_edge": IMAGE},
                     crop_size={"height": IMAGE, "width": IMAGE})),
        "siglip": (siglip, hf.SiglipImageProcessor(
            size={"height": IMAGE, "width": IMAGE})),
    }
    sd = make_checkpoint(path("model.pth"), conv=True)
    rng = np.random.default_rng(3)
    picture = rng.integers(0, 256, (IMAGE, IMAGE, 3), dtype=np.uint8)
    Image.fromarray(picture).save(path("image.png"))
    for name, (model, processor) in towers.items():
        model.eval()
        folder = path(name)
        export(Hidden(model), torch.randn(1, 3, IMAGE, IMAGE), folder,
               "pixel_values")
        processor.save_pretrained(folder)  # preprocessor_config.json
        pixels = processor(images=Image.open(path("image.png")),
                           return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            features = Hidden(model.double())(pixels.double())[0].numpy()
        rows = adapter_reference(sd, features)
        tokens = [5, BEGIN] + [PLACEHOLDER] * len(rows) + [END, 7, 8]
        want = model_reference(sd, tokens, rows)
        errors = pipeline_error(tool, path, name, path("model.pth"),
                                ("--image", path("image.png")), want, tokens)
        for target, err in errors.items():
            checks(err <= TOLERANCE,
                   f"{name} ({target}): transformers tower + its "
                   f"preprocessor_config.json, {len(rows)} adapter rows: "
                   f"max|err|/std = {err:.2e}")

    # Whisper: a 1 s window (100 log-mel frames, 50 encoder positions).
    extractor = hf.WhisperFeatureExtractor(feature_size=80, chunk_length=1)
    whisper = hf.models.whisper.modeling_whisper.WhisperEncoder(
        hf.WhisperConfig(d_model=D_ENC, encoder_layers=2,
                         encoder_attention_heads=4, encoder_ffn_dim=2 * D_ENC,
                         num_mel_bins=80,
                         max_source_positions=extractor.nb_max_frames // 2))
    whisper.eval()
    folder = path("whisper")
    export(Hidden(whisper), torch.randn(1, 80, extractor.nb_max_frames),
           folder, "input_features")
    extractor.save_pretrained(folder)
    sd = speech_checkpoint(path("whisper.pth"), {
        "conv.weight": (2 * WIDTH, D_ENC, 3),
        "mlp.0.weight": (2 * WIDTH, 2 * WIDTH), "mlp.0.bias": (2 * WIDTH,),
        "mlp.2.weight": (WIDTH, 2 * WIDTH), "mlp.2.bias": (WIDTH,)}, seed=30)
    t = np.arange(11200) / 16000
    voice = 0.5 * np.sin(2 * np.pi * 220 * t) * np.exp(-2 * t)
    voice += 0.05 * rng.standard_normal(len(t))
    samples = write_wav(path("clip.wav"), voice[:, None], 16000, "float32")
    mel = extractor(samples, sampling_rate=16000,
                    return_tensors="pt")["input_features"]
    rows, errors = speech_error(tool, path, "whisper", sd, whisper, mel,
                                path("clip.wav"), stride=2, padding=2)
    for target, err in errors.items():
        checks(err <= TOLERANCE,
               f"whisper ({target}): transformers encoder + its feature "
               f"extractor's preprocessor_config.json, a 0.7 s clip, {rows} "
               f"adapter rows: max|err|/std = {err:.2e}")

    # WavLM: 4000 samples -> 399 frames; K = 5 stacking -> 79 rows. Its
    # encoder asks whether it runs under FSDP (for layer drop), which
    # imports torch.distributed, broken in Debian's torch 1.13 on Python
    # 3.11; in eval mode the answer is irrelevant.
    import transformers.models.wavlm.modeling_wavlm as wavlm_module
    wavlm_module.is_fsdp_managed_module = lambda module: False
    samples_in = 4000
    wavlm = hf.WavLMModel(hf.WavLMConfig(
        hidden_size=D_ENC, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=2 * D_ENC, conv_dim=(32, 32), conv_stride=(5, 2),
        conv_kernel=(10, 3), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4)).eval()
    folder = path("wavlm")
    export(Hidden(wavlm), torch.randn(1, samples_in), folder, "input_values")
    extractor = hf.Wav2Vec2FeatureExtractor(do_normalize=True,
                                            return_attention_mask=True)
    extractor.save_pretrained(folder)
    sd = speech_checkpoint(path("wavlm.pth"), {
        "mlp.0.weight": (128, 5 * D_ENC), "mlp.0.bias": (128,),
        "mlp.2.weight": (WIDTH, 128), "mlp.2.bias": (WIDTH,),
        "pre_norm.weight": (WIDTH,), "pre_norm.bias": (WIDTH,)}, seed=40)
    t = np.arange(3000) / 16000
    voice = 0.6 * np.sin(2 * np.pi * 300 * t) * np.exp(-3 * t)
    voice += 0.02 * rng.standard_normal(len(t))
    samples = write_wav(path("voice.wav"), voice[:, None], 16000, "int16")
    waveform = extractor(samples, sampling_rate=16000, padding="max_length",
                         max_length=samples_in,
                         return_tensors="pt")["input_values"]
    rows, errors = speech_error(tool, path, "wavlm", sd, wavlm, waveform,
                                path("voice.wav"), stack=5)
    for target, err in errors.items():
        checks(err <= TOLERANCE,
               f"wavlm ({target}): transformers encoder + its feature "
               f"extractor's preprocessor_config.json, K = 5 stacking, {rows} "
               f"adapter rows: max|err|/std = {err:.2e}")
    checks.finish()


if __name__ == "__main__":
    sys.exit(main())
