"""Who saw or changed what: every view and export of personal data leaves a record."""
