"""Paging of every list page: the page size a user picked (?per=) and the links of the pager
(templates/_pager.html: page numbers, a page-size choice, jump to a page)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import request, url_for

PAGE_SIZES = (20, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50


def page_size(default: int = DEFAULT_PAGE_SIZE) -> int:
    per = request.args.get("per", type=int)
    return per if per in PAGE_SIZES else default


def page_number() -> int:
    return max(1, request.args.get("page", 1, type=int))


@dataclass(frozen=True)
class Pages:
    """Where a page lies in a list of `total` rows (the pager's `page` argument)."""
    page: int
    pages: int
    total: int
    per_page: int

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def pages_of(total: int, per_page: int | None = None) -> Pages:
    """The requested page of `total` rows, clamped, at the requested (or default) size."""
    per = per_page or page_size()
    pages = max(1, -(-total // per))
    return Pages(min(page_number(), pages), pages, total, per)


def page_url(page: int, per: int | None = None) -> str:
    """This page's URL with another page (and page size); the other arguments kept."""
    args = request.args.to_dict(flat=False)
    args.pop("page", None)
    if page > 1:
        args["page"] = [page]
    if per is not None:
        args["per"] = [per]
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def page_window(page: int, pages: int, around: int = 2) -> list[int | None]:
    """Page numbers to show: the first, the last and `around` each side of `page`; None marks
    a gap."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    out: list[int | None] = []
    for n in shown:
        if out and n - out[-1] > 1:
            out.append(None)
        out.append(n)
    return out


def hidden_args(*skip: str) -> list[tuple[str, str]]:
    """The current query arguments as (name, value) pairs for a GET form, minus `skip`."""
    return [(k, v) for k, values in request.args.lists() if k not in skip for v in values]


def init_app(app) -> None:
    app.jinja_env.globals.update(page_url=page_url, page_window=page_window,
                                 hidden_args=hidden_args, PAGE_SIZES=PAGE_SIZES)
