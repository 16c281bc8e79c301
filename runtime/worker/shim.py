"""Install modelyard's AMLRequest/AMLResponse modules under the import paths Azure scoring scripts use."""

from __future__ import annotations

import importlib.util
import sys
import types

from runtime.worker import aml_request, aml_response

#: (module name, module, whether modelyard owns the parent packages). Azure maps the legacy names onto its own
#: modules the same way. The `azureml_inference_server_http` package is always ours inside a worker, even if the
#: real one is installed: importing it would start pieces of Azure's server (it edits sys.path on import).
_LEAVES: tuple[tuple[str, types.ModuleType, bool], ...] = (
    ("azureml_inference_server_http.api.aml_request", aml_request, True),
    ("azureml_inference_server_http.api.aml_response", aml_response, True),
    ("azureml.contrib.services.aml_request", aml_request, False),
    ("azureml.contrib.services.aml_response", aml_response, False),
)
_MARK = "__modelyard_shim__"


def install() -> None:
    """Put the shim modules in sys.modules, with parent packages so that plain `import a.b.c` works too."""
    for name, module, owned in _LEAVES:
        sys.modules[name] = module
        top = name.partition(".")[0]
        if owned or (top not in sys.modules and not _importable(top)) or _is_shim(sys.modules.get(top)):
            _link_parents(name, module)
        # else: a real package (e.g. azureml-core's `azureml` namespace) exists; leave it alone, as Azure does.
        # The sys.modules entry alone serves `from azureml.contrib.services.aml_request import ...`.


def _link_parents(name: str, leaf: types.ModuleType) -> None:
    parts = name.split(".")
    child = leaf
    for depth in range(len(parts) - 1, 0, -1):
        parent_name = ".".join(parts[:depth])
        existing = sys.modules.get(parent_name)
        if existing is not None and _is_shim(existing):
            parent = existing
        else:
            parent = types.ModuleType(parent_name)
            parent.__path__ = []  # a package with nothing else in it: other submodules fail to import normally
            setattr(parent, _MARK, True)
            sys.modules[parent_name] = parent
        setattr(parent, parts[depth], child)
        child = parent


def _is_shim(module: types.ModuleType | None) -> bool:
    return module is not None and getattr(module, _MARK, False)


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
