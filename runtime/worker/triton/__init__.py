"""No-code serving of a Triton model repository of ONNX models over the Open Inference Protocol v2 (REST)."""
