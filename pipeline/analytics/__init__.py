"""What the lake's rows are made to say: categories, PII redaction, contact trace records, evaluations,
search, imports of other tools' outputs, and the Athena views."""
