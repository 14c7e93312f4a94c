"""Services of the web app: the routes call these; they hold the rules."""
