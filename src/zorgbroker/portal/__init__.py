"""The portal: the web front door (FastAPI, Jinja2 templates in Dutch, htmx served from the
package). `app.create_app` builds it from the accounts services it is handed."""
