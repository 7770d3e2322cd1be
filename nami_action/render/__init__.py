"""Views of the Plan and the deploy Result: terminal text, Markdown (PR comments), JSON."""
