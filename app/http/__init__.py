"""Web plumbing: the one responder, the middleware and error pages, forms, static files, the table
view and the two-list selector. Only controllers and app/asgi.py import this package."""
