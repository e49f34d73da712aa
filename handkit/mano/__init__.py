"""The MANO hand model: arrays, safe loading of official files, the embedded synthetic model, the layer."""

from handkit.mano.model import ManoModel

__all__ = ["ManoModel"]
