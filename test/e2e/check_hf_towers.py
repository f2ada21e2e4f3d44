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
- the Whisper encoder: its ONNX export through modrwkv-onnx-test against
  PyTorch (|got - want| <= 1e-5 + 1e-4 |want|).

Exits 77 (skipped) when transformers is not installed (tools/setup.sh
installs it).
"""
import os
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, os.pardir, "onnx"))
from check_multimodal import (BEGIN, D_ENC, END, PLACEHOLDER,  # noqa: E402
                              TOLERANCE, adapter_reference, make_checkpoint,
                              model_reference, rel_err)
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
        art = path(name + "-art")
        run([tool("modrwkv-compile"), path("model.pth"), "--encoder",
             os.path.join(folder, "model.onnx"), "--encoder-config",
             os.path.join(folder, "preprocessor_config.json"), "-o", art,
             "--opt-level", "2"])
        pixels = processor(images=Image.open(path("image.png")),
                           return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            features = Hidden(model.double())(pixels.double())[0].numpy()
        rows = adapter_reference(sd, features)
        tokens = [5, BEGIN] + [PLACEHOLDER] * len(rows) + [END, 7, 8]
        want = model_reference(sd, tokens, rows)
        run([tool("modrwkv-run"), art, "--image", path("image.png"),
             "--tokens", ",".join(map(str, tokens)), "--logits-out",
             path("logits.npy")])
        err = rel_err(np.load(path("logits.npy")), want)
        checks(err <= TOLERANCE,
               f"{name}: transformers tower + its preprocessor_config.json, "
               f"{len(rows)} adapter rows: max|err|/std = {err:.2e}")

    whisper = hf.models.whisper.modeling_whisper.WhisperEncoder(
        hf.WhisperConfig(d_model=D_ENC, encoder_layers=2,
                         encoder_attention_heads=4, encoder_ffn_dim=2 * D_ENC,
                         num_mel_bins=80, max_source_positions=32))
    export(Hidden(whisper.eval()), torch.randn(1, 80, 64), path("whisper"),
           "input_features")
    proc = subprocess.run([tool("modrwkv-onnx-test"), "--rtol", "1e-4",
                           "--atol", "1e-5", path("whisper")],
                          capture_output=True, text=True)
    checks(proc.returncode == 0 and proc.stdout.startswith("PASS"),
           f"whisper encoder (transformers) against PyTorch: "
           f"{proc.stdout.strip().splitlines()[0] if proc.stdout else ''} "
           f"{proc.stderr.strip()[-300:]}")
    checks.finish()


if __name__ == "__main__":
    sys.exit(main())
