"""nevision-snippets: correct nevision reporter snippets, generated from one spec."""

from generator.errors import SnippetsError
from generator.render import Generator, render

__version__ = "0.1.0"

__all__ = ["Generator", "SnippetsError", "__version__", "render"]
