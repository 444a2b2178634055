"""The tiny movie knowledge base in MetaQA's ``s|r|o`` form shared by the tests, and its writer."""

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


def rows_text(rows: list[tuple[str, str, str]]) -> str:
    """(subject, relation, object) rows as ``s|r|o`` lines."""
    return "".join("|".join(r) + "\n" for r in rows)
