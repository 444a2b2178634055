"""A tiny movie knowledge base in MetaQA's ``s|r|o`` form, shared by the unit tests."""

from __future__ import annotations

MOVIES = """\
Kismet|directed_by|William Dieterle
Kismet|release_year|1944
Kismet|starred_actors|Marlene Dietrich
Dark City|directed_by|William Dieterle
Dark City|release_year|1950
Vamp|directed_by|Richard Wenk
Vamp|release_year|1986
"""
