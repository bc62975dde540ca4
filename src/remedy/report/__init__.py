"""HTML reports with embedded plots."""
