"""Action stream: Kinetics-400 actions recognised by two-stream I3D, mapped to emotions."""
from .i3d import InceptionI3d
from .stream import ActionAnalysis, ActionOptions, ActionStream

__all__ = ["ActionAnalysis", "ActionOptions", "ActionStream", "InceptionI3d"]
