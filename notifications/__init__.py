"""Customer mails: templates, transactional outbox, SMTP sending, campaigns, bounces."""
