"""The column names a dataset's rows carry between upload, inference and evaluation."""

EXAMPLES = "examples"
GROUND_TRUTH = "ground_truth"
PREDICTIONS = "predictions"
