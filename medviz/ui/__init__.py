"""The only part of medviz that imports Streamlit: caching, shared widgets, page sections."""
