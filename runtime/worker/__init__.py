"""The worker subprocess: pinning, the socket loop, and the model adapters (Azure scoring script, Triton ONNX).

Run as `python -m runtime.worker --socket PATH --name NAME [--cores 0,1]`; nothing here is imported by the
control process, which only knows that command line and the messages in `runtime.ipc.messages`.
"""
