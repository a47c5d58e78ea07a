"""The PySide6 desktop app: thin views over the plain-Python core."""
