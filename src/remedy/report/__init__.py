"""HTML reports with embedded plots."""

from jinja2 import Environment, PackageLoader, select_autoescape


def templates() -> Environment:
    """The report templates, HTML-escaped by default."""
    return Environment(
        loader=PackageLoader("remedy.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
