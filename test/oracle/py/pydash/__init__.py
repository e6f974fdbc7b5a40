"""The three pydash helpers azure-ai-ml 1.4.0 imports (get, omit, objects.set_), which Debian does
not package. Same semantics for the paths the SDK uses: dotted keys, list indices, attributes."""
from . import objects
from .objects import get, omit, set_

__all__ = ["get", "omit", "set_", "objects"]
