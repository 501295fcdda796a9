"""Citizens, each with one identity per channel they wrote from."""
