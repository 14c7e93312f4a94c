"""Routes of the web app: thin functions that call services and render templates."""
