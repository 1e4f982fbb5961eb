"""The simulated core's modules: which are available and which loaded, as ``load``,
``unload``, ``reload``, ``module_exists`` and ``node.info`` see them.
Layer: bottom (no imports from the simulated core)."""

from __future__ import annotations

import attrs

__all__ = ["ModuleTable"]


@attrs.define
class ModuleTable:
    """Module names in declaration order, each loaded or only available."""

    _loaded: dict[str, bool] = attrs.field(init=False, factory=dict)

    def add(self, name: str, *, loaded: bool = True) -> None:
        """Declare a module (``mod_commands``, ``mod_kazoo``...) as loaded or available;
        a loaded module stays loaded."""
        self._loaded[name] = loaded or self._loaded.get(name, False)

    def unload(self, name: str) -> None:
        """Mark a loaded module as available only (``unload``)."""
        if name in self._loaded:
            self._loaded[name] = False

    def exists(self, name: str) -> bool:
        """Whether ``name`` is loaded (``module_exists``)."""
        return self._loaded.get(name, False)

    def loaded(self) -> list[str]:
        return [name for name, loaded in self._loaded.items() if loaded]

    def available(self) -> list[str]:
        return list(self._loaded)
