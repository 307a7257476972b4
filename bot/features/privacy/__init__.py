"""The person's own data: consent and its versions, "my data" with a download,
deleting everything, the retention purge and the privacy notice."""
