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


def paginate(query: Select, raw_page, size: int | None = None, scalars: bool = True,
             count_query: Select | None = None) -> Page:
    """`count_query`, when given, counts the same rows more cheaply (e.g. without a join the page needs)."""
    size = size or current_app.config["PAGE_SIZE"]
    if count_query is None:
        count_query = select(func.count()).select_from(query.order_by(None).subquery())
    total = db.session.scalar(count_query) or 0
    number = min(page_number(raw_page), max(1, ceil(total / size)))
    paged = query.limit(size).offset((number - 1) * size)
    items = list(db.session.scalars(paged)) if scalars else list(db.session.execute(paged))
    return Page(items=items, number=number, size=size, total=total)
