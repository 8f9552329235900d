"""Users and their store grants: loading the access source into the warehouse."""

from include.access.load import AccessLoadError, load_access

__all__ = ["AccessLoadError", "load_access"]
