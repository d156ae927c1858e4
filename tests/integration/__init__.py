"""The claim workflow with its real side effects: database, S3, SMTP and the simulated bank."""
