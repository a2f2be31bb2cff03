"""Staff page views, one module per part of the clinic. Each view parses the request,
asks the access gate for the objects, calls a service to write, and renders."""
