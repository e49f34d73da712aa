"""handkit: a teaching and experimentation kit for semi-supervised 3D hand shape and pose
estimation with label propagation (Kaviani, Rahimi, Hartley)."""

__version__ = "0.1.0"
