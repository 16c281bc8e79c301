"""The wire between the control process and its worker subprocesses."""
