"""Pure chart functions: tidy tables or shap.Explanation in, plotly Figure out. Never see a model.

One module per view family (prediction, evaluation, explain, batch) so they grow independently.
"""

HOVER_END = "<extra></extra>"  # plotly: hide the hover box's secondary (trace name) part


def hover(*lines: str) -> str:
    """A plotly ``hovertemplate``: ``lines`` (already translated, with plotly's ``%{…}`` placeholders)
    joined by line breaks, the trace-name box hidden. Markup stays out of the translated messages."""
    return "<br>".join(lines) + HOVER_END
