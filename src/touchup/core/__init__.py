"""Pure clinical rules: the catalogue, dosing and intervals, screening, aftercare, the
wear-off model and the maintenance forecast. No Django, no I/O beyond reading our own
data files."""
