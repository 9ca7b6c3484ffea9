"""Model card from a bundle's manifest and its held-out evaluation (CLINICAL.md section E).

Sections follow Mitchell et al. 2019 (model details, intended use, factors, metrics, evaluation data,
training data, quantitative analyses, ethical considerations, caveats), completed with FDA CDS
criterion 4 (a: intended use, b: inputs, c: development and validation incl. subgroups and limits,
d: basis of each output) and CLINICAL.md M1–M9, with a one-page "Model Facts" summary on top
(Sendak 2020).

The card is a plain structure (:class:`ModelCard`: sections of typed blocks) so the Streamlit page
and the standalone HTML file render the same content. :func:`render_html` escapes every value: a
manifest or label is data, never markup.
"""
from __future__ import annotations

from medviz.modelcard.card import (  # noqa: F401 (re-exported: the public import path)
    Block,
    ModelCard,
    NOT_RECORDED,
    Section,
    iter_blocks,
    section_titles,
)
from medviz.modelcard.build import (  # noqa: F401
    build_model_card,
    default_subgroups,
)
from medviz.modelcard.performance import (  # noqa: F401
    subgroup_display,
)
from medviz.modelcard.render import (  # noqa: F401
    render_html,
)
