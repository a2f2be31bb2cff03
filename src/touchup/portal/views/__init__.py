"""Patient pages. Each view: the patient gate, one service call, render."""
