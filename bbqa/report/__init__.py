"""Renderers of audit results: terminal tables and files. None of them computes anything."""
