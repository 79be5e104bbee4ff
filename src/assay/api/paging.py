"""Query parameters of every paged route, bounded in one place.

An offset past what a database's signed 64-bit ``OFFSET`` holds (``skip=2**63``) made SQLite and
PostgreSQL raise inside the query; the bound turns it into a 422 that names the parameter. No
listing comes near two billion rows, so the bound costs nothing real. Other counts that reach SQL
(a file version, how many versions to keep) carry the same bound.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

MAX_COUNT = 2**31 - 1
MAX_PAGE = 1000

Skip = Annotated[int, Query(ge=0, le=MAX_COUNT, description="items to skip")]
Offset = Annotated[int, Query(ge=0, le=MAX_COUNT, description="rows to skip")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="items per page")]
EXAMPLES_PAGE = 500
ExamplesLimit = Annotated[int, Query(ge=1, le=EXAMPLES_PAGE, description="examples per page")]
