"""The one registry mechanism: named items (models, datasets, protocols, tables) added by the modules
that define them, the built-in modules and other installed packages' modules loaded on first lookup.

Every registry of the harness is a :class:`Registry`, so they share one way to add an item (a duplicate
name is a programmer error, raised at import), one way to find the modules that add them (a built-in
list plus the installed packages' entry points of a group, e.g. ``deap_bench.models``), and one
user-facing error for an unknown name::

    unknown model 'mtcn'; known: eegnet, mtcnn, ...; did you mean 'mtcnn'?

A separately installed package adds a model (or a dataset) by declaring an entry point in its own
metadata: ``[project.entry-points."deap_bench.models"] mine = "mypackage.mymodel"``; importing that
module registers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from bench.core.checks import close_match
from bench.core.errors import ConfigError

T = TypeVar("T")

DISTRIBUTION = "deap-bench"
"""This project's distribution name: its own entry points are the built-ins."""


def unknown_name(kind: str, name: object, known: Iterable[str]) -> ConfigError:
    """The one error for a name no registry of ``kind`` holds, naming the known ones (sorted) and the
    closest of them."""
    known = sorted(known)
    return ConfigError(
        f"unknown {kind} {name!r}; known: {', '.join(known) or 'none'}{close_match(name, known)}"
    )


def _normalise(dist: str) -> str:
    return dist.lower().replace("_", "-").replace(".", "-")


class Registry(Generic[T]):
    """Named items of one kind, in registration order.

    Parameters
    ----------
    kind : str
        What the items are, in words for the unknown-name error (``"model"``, ``"dataset"``).
    group : str, optional
        Entry-point group whose entries name modules that register items (``deap_bench.models``).
    builtins : mapping of str to str
        This project's own entries, ``{entry name: module}``, in the order they are loaded (registry
        order). They are also declared as entry points in ``pyproject.toml``; this list is what loads
        them where the installed metadata lacks the group (an install older than the group).
    by_name : bool
        The entry names are the item names (datasets): a lookup imports only that entry's module, and
        :meth:`names` lists them without importing any. Otherwise (models, whose modules register
        several items each) the first lookup imports every entry.
    """

    def __init__(
        self,
        kind: str,
        *,
        group: str | None = None,
        builtins: Mapping[str, str] | None = None,
        by_name: bool = False,
    ) -> None:
        self.kind = kind
        self.group = group
        self.builtins = dict(builtins or {})
        self.by_name = by_name
        self._items: dict[str, T] = {}
        self._entries: dict[str, EntryPoint] | None = None
        self._loaded = False

    # ------------------------------------------------------------------------------ registering
    def register(self, name: str, item: T) -> T:
        """Add ``item`` under ``name``; a name taken by another item is a programmer error (ValueError),
        raised when the defining module is imported. Registering the same item again is allowed."""
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"{self.kind} name must be a non-empty string without spaces, got {name!r}")
        if name in self._items and self._items[name] is not item:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def unregister(self, name: str) -> None:
        """Remove a registration (tests and notebooks that register throw-away items)."""
        self._items.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    # ------------------------------------------------------------------------------ loading
    def entries(self) -> dict[str, EntryPoint]:
        """The entries that register items: the built-ins (from the installed metadata, or the built-in
        list where it lacks the group), then other installed packages' entries of the group, sorted."""
        if self._entries is None:
            found = list(entry_points(group=self.group)) if self.group else []
            own = {ep.name: ep for ep in found if ep.dist and _normalise(ep.dist.name) == DISTRIBUTION}
            entries = {
                name: own.get(name) or EntryPoint(name, module, self.group or "")
                for name, module in self.builtins.items()
            }
            others = sorted((ep for ep in found if ep not in own.values()), key=lambda e: (e.value, e.name))
            seen = {ep.value for ep in entries.values()}
            for ep in others:
                if ep.value not in seen and ep.name not in entries:
                    entries[ep.name] = ep
                    seen.add(ep.value)
            self._entries = entries
        return self._entries

    def _load_all(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for ep in self.entries().values():
            ep.load()

    def reset(self) -> None:
        """Forget which entries were found and loaded (a test that installs a plugin), keeping the items:
        the next lookup reads the entry points again and imports what is not imported yet."""
        self._entries = None
        self._loaded = False

    # ------------------------------------------------------------------------------ looking up
    def get(self, name: str) -> T:
        """The item named ``name``; an unknown name is the one-line :func:`unknown_name` ConfigError."""
        if isinstance(name, str) and name not in self._items:
            if self.by_name and name in self.entries():
                self.entries()[name].load()
            else:
                self._load_all()
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise unknown_name(self.kind, name, self.names()) from None

    def names(self) -> tuple[str, ...]:
        """Every name, in order: entry names then other registrations for a ``by_name`` registry (no
        import), else the registered names after loading every entry."""
        if self.by_name:
            entries = tuple(self.entries())
            return entries + tuple(n for n in self._items if n not in entries)
        self._load_all()
        return tuple(self._items)

    def values(self) -> list[T]:
        """Every item, in :meth:`names` order (loading each)."""
        return [self.get(n) for n in self.names()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
