"""The Hand Predictor (Eq. 1), the Pose Aligner (Eqs. 2-4) and their shared records.

Introduced in ``notebooks/03_hand_predictor.ipynb`` and ``notebooks/04_pose_alignment.ipynb``.
"""

from handkit.models.aligner import PoseAligner
from handkit.models.encoder import ResNetEncoder
from handkit.models.mano_decoder import ManoDecoder
from handkit.models.pair import PairOutputs, align_pair, forward_pair
from handkit.models.predictor import SYNTHETIC_D_OFF_MM, HandPredictor
from handkit.models.records import HandFeatures, HandOutput, HandParams, HandTargets

__all__ = [
    "SYNTHETIC_D_OFF_MM",
    "HandFeatures",
    "HandOutput",
    "HandParams",
    "HandPredictor",
    "HandTargets",
    "ManoDecoder",
    "PairOutputs",
    "PoseAligner",
    "ResNetEncoder",
    "align_pair",
    "forward_pair",
]
