"""Models out of the project: the generator as an ONNX graph (onnx_generator)."""
from exporting.onnx_generator import INPUTS, build_graph, export_onnx

__all__ = ["INPUTS", "build_graph", "export_onnx"]
