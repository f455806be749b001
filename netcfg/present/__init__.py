"""Presentation: impacts, diffs, plans and drift as terminal text and tables, the
Markdown summary of a pull request, and the HTML timeline of a plan (a Jinja2
template). Nothing here computes a verdict; it only shows one."""
