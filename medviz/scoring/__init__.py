"""Batch scoring of tables (page upload and `python -m medviz score`), chunk by chunk.

Every input row comes out, in order, with its input columns unchanged and the output columns of the
scored-CSV contract (docs/ARCHITECTURE.md). A row that cannot be scored keeps empty outputs and says
why in ``error``; it is never dropped.
"""
from __future__ import annotations

from medviz.scoring.text import (  # noqa: F401 (re-exported: the public import path)
    TextScorer,
)
from medviz.scoring.tabular import (  # noqa: F401
    TabularScorer,
)
from medviz.scoring.render import (  # noqa: F401
    render_csv,
    write_csv_chunk,
)
from medviz.scoring.csv_pipeline import (  # noqa: F401
    Progress,
    ScoreSummary,
    ScoredTable,
    count_lines,
    likely_text_column,
    make_scorer,
    read_columns,
    score_csv,
    score_frame,
    score_upload,
)
