"""HTTP: the only package that imports starlette, uvicorn or hypercorn."""
