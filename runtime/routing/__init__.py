"""The data plane inside the control process: auth, admission, deployment and worker choice."""
