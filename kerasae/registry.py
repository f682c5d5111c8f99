"""Name -> object registries, for models and priors.

Follows TensorFlow Model Garden's `core/registry.py`: registering a name twice
raises, and asking for an unknown name lists the known ones, so a typo in
`--model` or `--prior` is caught before anything runs.
"""

from kerasae.errors import ConfigError


class Registry:
    """A mapping from names to objects with helpful failures.

    Args:
        kind: what is registered ("model", "prior"), used in messages.
        flag: the command-line flag that selects an entry, used in messages.
    """

    def __init__(self, kind, flag):
        self.kind = kind
        self.flag = flag
        self._entries = {}

    def register(self, name, obj=None):
        """Registers `obj` under `name`; usable as a decorator.

        Raises:
            ValueError: `name` is already registered.
        """
        if obj is None:
            return lambda o: self.register(name, o)
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = obj
        return obj

    def get(self, name):
        """Returns the object registered as `name`.

        Raises:
            ConfigError: `name` is unknown; the message lists known names.
        """
        if name not in self._entries:
            raise ConfigError(
                f"{self.flag}={name!r} is not a known {self.kind}; choose one "
                f"of: {', '.join(self.names())}"
            )
        return self._entries[name]

    def names(self):
        """Returns the registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name):
        return name in self._entries


MODELS = Registry("model", "--model")
