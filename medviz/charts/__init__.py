"""Pure chart functions: tidy tables or shap.Explanation in, plotly Figure out. Never see a model.

One module per view family (prediction, evaluation, explain, batch) so they grow independently.
"""
