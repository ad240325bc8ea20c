"""The report and its pictures: the templates (package data), the filters that
format numbers and escape user text, the charts, and the context the templates
read."""
