"""The handlers' registry: each handler module registers its functions here by name."""
from agi.fastagi.dispatch import Registry

registry = Registry()
register = registry.register
