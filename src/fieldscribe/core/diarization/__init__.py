"""Who spoke when, on the laptop, with no network and no torch.

A speaker-embedding model (3D-Speaker's CAM++ trained on Chinese and English, Apache-2.0,
converted once to ONNX by ``scripts/convert_campplus.py`` and shipped in this folder) turns
each 1.5 s window of speech into a voice fingerprint; windows are grouped into voices by
clustering (k-means when the number of voices is known, spectral clustering with the eigengap
otherwise), and the labelled windows become speaker turns. Speech is found with the Silero
VAD that faster-whisper already ships. Everything runs through onnxruntime (which
faster-whisper already brings) and loads only when first used.
"""
