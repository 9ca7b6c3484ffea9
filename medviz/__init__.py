"""medviz: put trained clinical Keras models in front of clinicians.

The library imports without Streamlit; only :mod:`medviz.ui` touches it.
"""
from medviz.errors import MedvizError

__all__ = ["MedvizError"]
__version__ = "0.1.0"
