"""Patient portal pages."""
