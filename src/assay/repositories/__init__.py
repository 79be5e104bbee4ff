"""Data access: one repository per aggregate, the only code that builds SQL queries."""
