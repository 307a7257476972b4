"""The person's own data (issue 5): consent and its versions, "my data" with a download,
deleting everything, the retention purge and the privacy notice."""
