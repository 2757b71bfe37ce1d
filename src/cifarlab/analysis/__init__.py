"""What is done with a trained run: evaluation, robustness to corruptions, the HTML report, comparing
runs, predicting image files and exporting to ONNX or TorchScript."""
