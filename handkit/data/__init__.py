"""Datasets: synthetic sparsely-labelled videos, HO-3D and InterHand2.6M readers, pair sampling."""

from handkit.data.record import FrameRecord

__all__ = ["FrameRecord"]
