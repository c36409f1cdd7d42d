"""Helpers that PyTorch exporters use to emit ssmc's custom ops (domain `ai.ssmc`).

Torch-free modules (usable from `tools/py`): `scan_function` (the ONNX node and its function body),
`scan_reference` (float64 numpy reference). Torch modules (need `tools/py-export`): `selective_scan`, `export`.
"""
