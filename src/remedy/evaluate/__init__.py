"""Evidence: accuracies on the split, detection curves, and the linear datamodeling score."""

from remedy.evaluate.accuracy import accuracy, evaluate
from remedy.evaluate.datamodels import Datamodels, lds
from remedy.evaluate.detection import DetectionCurve, detection_curve

__all__ = ["Datamodels", "DetectionCurve", "accuracy", "detection_curve", "evaluate", "lds"]
