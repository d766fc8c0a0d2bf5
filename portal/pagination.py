"""Offset pagination over a Select: one COUNT and one page query, whatever the page size."""
from dataclasses import dataclass
from math import ceil

from flask import current_app
from sqlalchemy import Select, func, select

from .extensions import db


@dataclass
class Page:
    items: list
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.size))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.number - 1) * self.size + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.number * self.size)


def page_number(raw) -> int:
    try:
        number = int(raw)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), 1_000_000)


def window(total: int, raw_page, size: int | None = None) -> Page:
    """The page `raw_page` asks for (clamped to the pages there are), still without its items."""
    size = size or current_app.config["PAGE_SIZE"]
    number = min(page_number(raw_page), max(1, ceil(total / size)))
    return Page(items=[], number=number, size=size, total=total)


def paginate(query: Select, raw_page, size: int | None = None, scalars: bool = True,
             count_query: Select | None = None) -> Page:
    """`count_query`, when given, counts the same rows more cheaply (e.g. without a join the page needs)."""
    if count_query is None:
        count_query = select(func.count()).select_from(query.order_by(None).subquery())
    page = window(db.session.scalar(count_query) or 0, raw_page, size)
    paged = query.limit(page.size).offset(page.offset)
    page.items = list(db.session.scalars(paged)) if scalars else list(db.session.execute(paged))
    return page
