"""One module per provider: its login flow, how its record looks, and how its tokens refresh."""
