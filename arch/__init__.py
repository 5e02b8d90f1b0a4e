"""arch package."""
