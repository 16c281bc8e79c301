"""Install modelyard's AMLRequest/AMLResponse modules under the import paths Azure scoring scripts use."""

from __future__ import annotations

import importlib.util
import sys
import types

from runtime.worker import aml_request, aml_response

#: (module name, module) pairs a script may import; Azure maps the legacy names onto the new ones the same way.
_LEAVES: tuple[tuple[str, types.ModuleType], ...] = (
    ("azureml_inference_server_http.api.aml_request", aml_request),
    ("azureml_inference_server_http.api.aml_response", aml_response),
    ("azureml.contrib.services.aml_request", aml_request),
    ("azureml.contrib.services.aml_response", aml_response),
)

_MARK = "__modelyard_shim__"


def install() -> None:
    """Put the shim modules in sys.modules, creating missing parent packages so plain `import a.b.c` works."""
    for name, module in _LEAVES:
        sys.modules[name] = module
        _link_parents(name, module)


def _link_parents(name: str, leaf: types.ModuleType) -> None:
    parts = name.split(".")
    top = sys.modules.get(parts[0])
    if (top is None and _importable(parts[0])) or (top is not None and not getattr(top, _MARK, False)):
        # A real package (e.g. azureml-core's `azureml` namespace) exists: leave it alone, as Azure does; the
        # sys.modules entry alone serves `from azureml.contrib.services.aml_request import ...`.
        return
    child: types.ModuleType = leaf
    for depth in range(len(parts) - 1, 0, -1):
        parent_name = ".".join(parts[:depth])
        parent = sys.modules.get(parent_name)
        if parent is None:
            parent = types.ModuleType(parent_name)
            parent.__path__ = []  # a package with nothing else in it: other submodules fail to import normally
            setattr(parent, _MARK, True)
            sys.modules[parent_name] = parent
        setattr(parent, parts[depth], child)
        child = parent


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
