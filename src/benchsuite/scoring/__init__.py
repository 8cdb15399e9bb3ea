"""From a trained model to numbers: inference, score files by format, DET and metric maths."""
