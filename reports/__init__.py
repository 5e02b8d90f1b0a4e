"""reports: turning SimResults and comparison tables into Markdown reports with matplotlib
figures (`reports.compare`). Renders only; simulates nothing."""
