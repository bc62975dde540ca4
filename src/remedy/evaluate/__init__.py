"""Evidence: accuracies on the failure split and detection curves."""

from remedy.evaluate.accuracy import accuracy, evaluate
from remedy.evaluate.detection import DetectionCurve, detection_curve

__all__ = ["DetectionCurve", "accuracy", "detection_curve", "evaluate"]
