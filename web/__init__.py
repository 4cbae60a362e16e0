"""The web control panel's static assets, served by the gateway; it talks only to the management API."""
