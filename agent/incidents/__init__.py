"""The incident domain: models, enums and the service layer everything else calls."""
