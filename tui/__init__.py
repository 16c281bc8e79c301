"""The Textual dashboard of `modelyard dashboard`: live status, traffic split, workers, jobs and logs.

It reads `runtime.status` snapshots through the management API client and imports nothing else from the runtime.
"""
