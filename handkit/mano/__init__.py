"""The MANO hand model: arrays, safe loading of official files, the embedded synthetic model,
and the layer."""

from handkit.mano.layer import ManoLayer, ManoSteps
from handkit.mano.loading import MANO_ROOT_ENV, load_model
from handkit.mano.model import JOINT_NAMES, ManoModel

__all__ = ["JOINT_NAMES", "MANO_ROOT_ENV", "ManoLayer", "ManoModel", "ManoSteps", "load_model"]
